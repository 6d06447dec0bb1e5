/* The two transforms of a Winograd convolution F(m x m, 3 x 3), stride 1, padding 1,
   on channels-last maps, for m = 2 and m = 4. The multiplications in between are
   one batched GEMM (torch.bmm), so this file holds only the memory-bound parts.

   With tiles of t = m + 2 input pixels:
     V[a][b] = (B^T d B)[a][b]   for each t x t input patch d (zero outside the map)
     M[a][b] = V[a][b] @ U[a][b] the GEMM; U = G g G^T, the transformed filters
     y       = A^T M A           the m x m output tile
   The matrices (Lavin and Gray 2016, points 0, +-1, +-2, inf) are constants
   here, so the compiler drops their zeros; `winograd_matrices` hands them to
   Python for the filter transform.

   Layouts (float32, contiguous):
     x (N, H, W, C)   input, channels last
     V (t*t, T, C)    for the T tiles [tile_begin, tile_begin + T) of all N * tiles_h
                      * tiles_w, in (n, i, j) order: callers go band by band, so
                      that V and M stay small (and in the cache)
     M (t*t, T, K)
     y (N, H, W, K)   output, channels last; tiles past the map's edge are cut */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CB 64 /* channels per block: a tile's t*t*CB floats stay in L1 */

static const float BT2[16] = {1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 0, -1};
static const float G2[12] = {1, 0, 0, .5f, .5f, .5f, .5f, -.5f, .5f, 0, 0, 1};
static const float AT2[8] = {1, 1, 1, 0, 0, 1, -1, -1};
static const float BT4[36] = {4, 0, -5, 0,  1, 0, 0, -4, -4, 1,  1, 0, 0, 4, -4, -1, 1, 0,
                              0, -2, -1, 2, 1, 0, 0, 2, -1, -2, 1, 0, 0, 4, 0,  -5, 0, 1};
static const float G4[18] = {1.f / 4,  0,         0,        -1.f / 6, -1.f / 6, -1.f / 6,
                             -1.f / 6, 1.f / 6,   -1.f / 6, 1.f / 24, 1.f / 12, 1.f / 6,
                             1.f / 24, -1.f / 12, 1.f / 6,  0,        0,        1};
static const float AT4[24] = {1, 1, 1, 1, 1, 0, 0, 1, -1, 2, -2, 0, 0, 1, 1, 4, 4, 0, 0, 1, -1, 8, -8, 1};

/* Copies B^T (t x t), G (t x 3) and A^T (m x t) for m = 2 or 4; returns -1 for another m. */
int winograd_matrices(int64_t m, float *BT, float *G, float *AT) {
  const int64_t t = m + 2;
  if (m != 2 && m != 4) return -1;
  memcpy(BT, m == 2 ? BT2 : BT4, sizeof(float) * t * t);
  memcpy(G, m == 2 ? G2 : G4, sizeof(float) * t * 3);
  memcpy(AT, m == 2 ? AT2 : AT4, sizeof(float) * m * t);
  return 0;
}

/* acc[c] += k * x[c] for c < n; the matrices' zeros cost nothing. */
static inline __attribute__((always_inline)) void add_scaled(float *restrict acc, const float k,
                                                             const float *restrict x, int64_t n) {
  if (k == 0.f) return;
  for (int64_t c = 0; c < n; c++) acc[c] += k * x[c];
}

static inline __attribute__((always_inline)) void input_tiles(const float *restrict x, int64_t H, int64_t W,
                                                              int64_t C, int64_t tile_begin, int64_t T,
                                                              const int64_t m, const float *restrict BT,
                                                              float *restrict V) {
  const int64_t t = m + 2, th = (H + m - 1) / m, tw = (W + m - 1) / m;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (int64_t tile = 0; tile < T; tile++) {
    const int64_t g = tile_begin + tile, n = g / (th * tw), i = (g / tw) % th, j = g % tw;
    const float *patch[6][6]; /* a pixel's channels, or NULL outside the map (zero padding) */
    for (int64_t r = 0; r < t; r++)
      for (int64_t s = 0; s < t; s++) {
        const int64_t yy = i * m - 1 + r, xx = j * m - 1 + s;
        patch[r][s] = (yy < 0 || yy >= H || xx < 0 || xx >= W) ? NULL : x + ((n * H + yy) * W + xx) * C;
      }
    for (int64_t c0 = 0; c0 < C; c0 += CB) {
      const int64_t cb = C - c0 < CB ? C - c0 : CB;
      float tmp[6][6][CB]; /* B^T d: rows combined */
      for (int64_t a = 0; a < t; a++)
        for (int64_t s = 0; s < t; s++) {
          float acc[CB] = {0};
          for (int64_t r = 0; r < t; r++)
            if (patch[r][s] != NULL) add_scaled(acc, BT[a * t + r], patch[r][s] + c0, cb);
          memcpy(tmp[a][s], acc, sizeof(float) * CB);
        }
      for (int64_t a = 0; a < t; a++)
        for (int64_t b = 0; b < t; b++) { /* (B^T d) B: columns combined */
          float acc[CB] = {0};
          for (int64_t s = 0; s < t; s++) add_scaled(acc, BT[b * t + s], tmp[a][s], cb);
          memcpy(V + ((a * t + b) * T + tile) * C + c0, acc, sizeof(float) * cb);
        }
    }
  }
}

static inline __attribute__((always_inline)) void output_tiles(const float *restrict M, int64_t H, int64_t W,
                                                               int64_t K, int64_t tile_begin, int64_t T,
                                                               const int64_t m, const float *restrict AT,
                                                               float *restrict y) {
  const int64_t t = m + 2, th = (H + m - 1) / m, tw = (W + m - 1) / m;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (int64_t tile = 0; tile < T; tile++) {
    const int64_t g = tile_begin + tile, n = g / (th * tw), i = (g / tw) % th, j = g % tw;
    for (int64_t k0 = 0; k0 < K; k0 += CB) {
      const int64_t kb = K - k0 < CB ? K - k0 : CB;
      float tmp[4][6][CB]; /* A^T M: rows combined */
      for (int64_t p = 0; p < m; p++)
        for (int64_t b = 0; b < t; b++) {
          float acc[CB] = {0};
          for (int64_t a = 0; a < t; a++) add_scaled(acc, AT[p * t + a], M + ((a * t + b) * T + tile) * K + k0, kb);
          memcpy(tmp[p][b], acc, sizeof(float) * CB);
        }
      for (int64_t p = 0; p < m && i * m + p < H; p++)
        for (int64_t q = 0; q < m && j * m + q < W; q++) { /* (A^T M) A: columns combined */
          float acc[CB] = {0};
          for (int64_t b = 0; b < t; b++) add_scaled(acc, AT[q * t + b], tmp[p][b], kb);
          memcpy(y + ((n * H + i * m + p) * W + j * m + q) * K + k0, acc, sizeof(float) * kb);
        }
    }
  }
}

/* m = 2 or 4, with the matrices as compile-time constants; returns -1 for another m. */
int winograd_input(const float *x, int64_t H, int64_t W, int64_t C, int64_t tile_begin, int64_t T, int64_t m,
                   float *V) {
  if (m == 2) input_tiles(x, H, W, C, tile_begin, T, 2, BT2, V);
  else if (m == 4) input_tiles(x, H, W, C, tile_begin, T, 4, BT4, V);
  else return -1;
  return 0;
}

int winograd_output(const float *M, int64_t H, int64_t W, int64_t K, int64_t tile_begin, int64_t T, int64_t m,
                    float *y) {
  if (m == 2) output_tiles(M, H, W, K, tile_begin, T, 2, AT2, y);
  else if (m == 4) output_tiles(M, H, W, K, tile_begin, T, 4, AT4, y);
  else return -1;
  return 0;
}
