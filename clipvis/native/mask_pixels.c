/* The pixel work of clipvis/masks.py::FramePixels for float32 logits on the CPU,
   in one pass per mask instead of a dozen tensor ops over all of them.

   For Q maps of h x w logits (C order, row by row):
     sign  (Q, w, h) uint8  logits > 0, column by column: the (h, w, Q)
                            Fortran-order bit maps pycocotools encodes
     band  (Q, w, h) uint8  pixels with both signs within `radius` (Chebyshev,
                            clipped at the borders): where exact values matter
     values                 the band's logits, mask after mask, column-major within
                            each: counts[q] of them for mask q
   NaN counts as not positive, as `logits > 0` does in PyTorch. */
#include <stdint.h>
#include <stdlib.h>

/* Band map and count of one mask; `scratch` holds 4*h*w + w bytes. The work is
   whole-row byte operations (vectorised); only the final transposition to
   column order goes pixel by pixel. */
static int64_t band_of(const float *restrict x, int64_t h, int64_t w, int64_t radius, uint8_t *restrict sign,
                       uint8_t *restrict band, uint8_t *restrict scratch) {
  const int64_t n = h * w;
  uint8_t *pos = scratch, *rows = scratch + n, *row_any = scratch + 2 * n, *row_all = scratch + 3 * n;
  uint8_t *every = scratch + 4 * n;
  for (int64_t i = 0; i < n; i++) pos[i] = x[i] > 0.f;
  /* Along each row: any positive (a dilation) and all positive (an erosion) within radius. */
  for (int64_t y = 0; y < h; y++) {
    const uint8_t *p = pos + y * w;
    uint8_t *ra = row_any + y * w, *rl = row_all + y * w;
    for (int64_t c = 0; c < w; c++) ra[c] = rl[c] = p[c];
    for (int64_t d = 1; d <= radius && d < w; d++) {
      for (int64_t c = d; c < w; c++) { ra[c] |= p[c - d]; rl[c] &= p[c - d]; }
      for (int64_t c = 0; c < w - d; c++) { ra[c] |= p[c + d]; rl[c] &= p[c + d]; }
    }
  }
  /* Then across rows: the band has some positive and some non-positive pixel around it. */
  for (int64_t y = 0; y < h; y++) {
    const int64_t lo = y - radius < 0 ? 0 : y - radius, hi = y + radius >= h ? h - 1 : y + radius;
    uint8_t *some = rows + y * w;
    for (int64_t c = 0; c < w; c++) { some[c] = row_any[lo * w + c]; every[c] = row_all[lo * w + c]; }
    for (int64_t k = lo + 1; k <= hi; k++)
      for (int64_t c = 0; c < w; c++) { some[c] |= row_any[k * w + c]; every[c] &= row_all[k * w + c]; }
    for (int64_t c = 0; c < w; c++) some[c] &= !every[c];
  }
  /* Transposed to column order. */
  int64_t count = 0;
  for (int64_t c = 0; c < w; c++)
    for (int64_t y = 0; y < h; y++) {
      sign[c * h + y] = pos[y * w + c];
      band[c * h + y] = rows[y * w + c];
      count += rows[y * w + c];
    }
  return count;
}

/* Sign and band maps and the band's size of every mask. Returns 0, or -1 if
   scratch memory could not be had. */
int mask_bands(const float *logits, int64_t Q, int64_t h, int64_t w, int64_t radius, uint8_t *sign, uint8_t *band,
               int64_t *counts) {
  const int64_t n = h * w;
  int failed = 0;
#ifdef _OPENMP
#pragma omp parallel
#endif
  {
    uint8_t *scratch = malloc(4 * n + w);
    if (scratch == NULL) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
      failed = 1;
    }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (int64_t q = 0; q < Q; q++)
      if (scratch != NULL)
        counts[q] = band_of(logits + q * n, h, w, radius, sign + q * n, band + q * n, scratch);
    free(scratch);
  }
  return failed ? -1 : 0;
}

/* The band's values, mask after mask (column-major within each), into `values`;
   mask q's start there is starts[q] (the counts' running sum, from the caller). */
void band_values(const float *logits, int64_t Q, int64_t h, int64_t w, const uint8_t *band, const int64_t *starts,
                 float *values) {
  const int64_t n = h * w;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (int64_t q = 0; q < Q; q++) {
    const float *x = logits + q * n;
    const uint8_t *b = band + q * n;
    int64_t k = starts[q];
    for (int64_t c = 0; c < w; c++)
      for (int64_t y = 0; y < h; y++)
        if (b[c * h + y]) values[k++] = x[y * w + c];
  }
}
