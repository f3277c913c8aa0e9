#ifndef FEDLEDGER_CZLIB_SHIM_H
#define FEDLEDGER_CZLIB_SHIM_H
#include <zlib.h>
#endif
