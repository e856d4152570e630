/* See helper-call.h. */
#include "helper-call.h"

#include <string.h>

static const struct {
    const char *method;
    const char *signature;
    enum helper_method kind;
    const char *action;
} methods[] = {
    {"Slew", "(xt)", HELPER_METHOD_SLEW, HELPER_ACTION_ADJUST},
    {"SetFrequency", "(d)", HELPER_METHOD_SET_FREQUENCY, HELPER_ACTION_ADJUST},
    {"Step", "(xtts)", HELPER_METHOD_STEP, HELPER_ACTION_STEP},
    {"StepToFloor", "()", HELPER_METHOD_STEP_TO_FLOOR, HELPER_ACTION_STEP},
    {"ApproveStep", "(xt)", HELPER_METHOD_APPROVE_STEP, HELPER_ACTION_APPROVE_STEP},
};

gboolean helper_call_parse(const char *method, GVariant *parameters, struct helper_request *request,
                           char **request_id, const char **action)
{
    g_return_val_if_fail(method != NULL && request != NULL && request_id != NULL, FALSE);
    g_return_val_if_fail(action != NULL, FALSE);
    for (gsize i = 0; i < G_N_ELEMENTS(methods); i++) {
        if (strcmp(method, methods[i].method) != 0) {
            continue;
        }
        /* GDBus checks the arguments against the interface before the service sees them;
         * checked again so that no caller can make g_variant_get() misread them. A method
         * without arguments may come with NULL. */
        const GVariantType *type = G_VARIANT_TYPE(methods[i].signature);
        if (parameters == NULL ? !g_variant_type_equal(type, G_VARIANT_TYPE_UNIT)
                               : !g_variant_is_of_type(parameters, type)) {
            return FALSE;
        }
        struct helper_request r = {.method = methods[i].kind};
        char *id = NULL;
        switch (r.method) {
        case HELPER_METHOD_SLEW:
            g_variant_get(parameters, "(xt)", &r.offset_ns, &r.uncertainty_ns);
            break;
        case HELPER_METHOD_SET_FREQUENCY:
            g_variant_get(parameters, "(d)", &r.ppm);
            break;
        case HELPER_METHOD_STEP:
            g_variant_get(parameters, "(xtts)", &r.offset_ns, &r.uncertainty_ns,
                          &r.measured_boottime_ns, &id);
            r.request_id = id;
            break;
        case HELPER_METHOD_STEP_TO_FLOOR:
            break;
        case HELPER_METHOD_APPROVE_STEP:
            g_variant_get(parameters, "(xt)", &r.offset_ns, &r.tolerance_ns);
            break;
        }
        *request = r;
        *request_id = id;
        *action = methods[i].action;
        return TRUE;
    }
    return FALSE;
}
