#ifndef FEDLEDGER_CGMP_SHIM_H
#define FEDLEDGER_CGMP_SHIM_H
// GMP's mpz_* names are macros: Swift calls the __gmpz_* functions they stand for.
#include <gmp.h>
#endif
