// SondeBPFTypes is headers only; SwiftPM needs one source file per C target.
#include "sonde/events.h"
