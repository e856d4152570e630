#include "net-error.h"

G_DEFINE_QUARK(gnomon - net - error - quark, gnomon_net_error)
