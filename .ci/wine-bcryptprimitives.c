/* ProcessPrng for wine 8 (Debian 12's), which lacks bcryptprimitives.dll: Rust's standard library takes its random
 * bytes (HashMap's keys) from it, as Windows 10 and later provide it. .ci/windows builds this into the wine prefix
 * only; nib.exe on Windows uses Windows' own. */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len) {
    /* RtlGenRandom takes a ULONG length. */
    ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!RtlGenRandom(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
