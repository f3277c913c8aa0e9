#ifndef FEDLEDGER_CBLAS_SHIM_H
#define FEDLEDGER_CBLAS_SHIM_H
#include <cblas.h>
#endif
