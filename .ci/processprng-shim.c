/* bcryptprimitives.dll for wine 8, which lacks ProcessPrng: Rust's std
 * (1.78+) imports it for random numbers, and an exe that cannot resolve it
 * fails to start (c0000135). Placed next to credbox.exe in CI only; a real
 * Windows (10 and later) has the real one. */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    return BCryptGenRandom(NULL, data, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0;
}
