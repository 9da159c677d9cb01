// zlib from Debian's zlib1g-dev: gzip for pprof files.
#include <zlib.h>
