/* Multi-scale deformable attention sampling for inference on the CPU.

   The same result as clipvis/modeling/deform_attn.py::ms_deform_attn (bilinear
   sampling with zero padding, align_corners=False, then the softmaxed attention
   weights), fused into one pass: for each (query, head) the softmax, the corner
   indices and weights and the weighted sum of the value rows are computed
   without writing any temporary to memory. In PyTorch the same work is about
   20 separate ops over large tensors.

   Layouts (float32; rows may be strided, the rest is contiguous):
     value     (N, S, C)        all levels flattened, channels last; head m owns
                                channels [m*D, (m+1)*D), D = C / M
     offsets   (R, 2, M, L, P)  sample positions in each level's pixels, x then y,
                                pixel centres at integers; rows offsets_stride apart
     reference (T, 2, M, L, P)  added to the offsets: row r uses reference row
                                r % T, T = rows_per_sample (every sample has the same
                                reference points); NULL for none
     logits    (R, M, L*P)      attention logits before the softmax; rows logits_stride apart
     out       (R, C)
   Row r belongs to sample r / rows_per_sample. Rows [row_begin, row_end) are
   done by this call.

   Threads: built with -fopenmp, the rows are split with OpenMP. PyTorch's Linux
   wheels ship their own libgomp.so.1, and a library loaded after torch binds to
   that same runtime, so the kernel runs on torch's own (already spinning) worker
   threads instead of competing with them for the cores.

   Memory safety does not depend on the floats: indices are clamped as
   integers, so NaN or huge positions read valid rows (and give NaN or zero). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_SAMPLES 256 /* L * P per head */

static inline __attribute__((always_inline)) void sample_head(
    const float *restrict value, const int64_t *restrict level_start, const int64_t *restrict level_h,
    const int64_t *restrict level_w, const float *restrict xs, const float *restrict ys,
    const float *restrict rxs, const float *restrict rys, const float *restrict logits, const int64_t K,
    const int64_t C, const int64_t D, float *restrict out) {
  float weight[MAX_SAMPLES];
  float top = logits[0];
  for (int64_t k = 1; k < K; k++) top = logits[k] > top ? logits[k] : top;
  float total = 0.f;
  for (int64_t k = 0; k < K; k++) {
    weight[k] = expf(logits[k] - top);
    total += weight[k];
  }
  const float norm = 1.f / total;

  float acc[D];
  for (int64_t c = 0; c < D; c++) acc[c] = 0.f;
  for (int64_t k = 0; k < K; k++) {
    const int64_t h = level_h[k], w = level_w[k];
    /* Clamp to [-1, size]: beyond that every corner is outside and reads zero. */
    float x = rxs ? xs[k] + rxs[k] : xs[k], y = rys ? ys[k] + rys[k] : ys[k];
    x = x < -1.f ? -1.f : (x > (float)w ? (float)w : x);
    y = y < -1.f ? -1.f : (y > (float)h ? (float)h : y);
    const float x0f = floorf(x), y0f = floorf(y);
    const float fx = x - x0f, fy = y - y0f;
    int64_t x0 = (int64_t)x0f, y0 = (int64_t)y0f;
    x0 = x0 < -1 ? -1 : (x0 > w ? w : x0);
    y0 = y0 < -1 ? -1 : (y0 > h ? h : y0);
    /* A corner outside the map gets weight 0 and reads a clamped, valid row. */
    const float a = weight[k] * norm;
    const float wx0 = (x0 >= 0 && x0 < w) ? 1.f - fx : 0.f, wx1 = (x0 + 1 < w) ? fx : 0.f;
    const float wy0 = ((y0 >= 0 && y0 < h) ? 1.f - fy : 0.f) * a, wy1 = ((y0 + 1 < h) ? fy : 0.f) * a;
    const int64_t xa = x0 < 0 ? 0 : (x0 >= w ? w - 1 : x0), xb = x0 + 1 >= w ? w - 1 : x0 + 1;
    const int64_t ya = y0 < 0 ? 0 : (y0 >= h ? h - 1 : y0), yb = y0 + 1 >= h ? h - 1 : y0 + 1;
    const float *base = value + level_start[k] * C;
    const float *v00 = base + (ya * w + xa) * C, *v01 = base + (ya * w + xb) * C;
    const float *v10 = base + (yb * w + xa) * C, *v11 = base + (yb * w + xb) * C;
    const float w00 = wy0 * wx0, w01 = wy0 * wx1, w10 = wy1 * wx0, w11 = wy1 * wx1;
    for (int64_t c = 0; c < D; c++) acc[c] += w00 * v00[c] + w01 * v01[c] + w10 * v10[c] + w11 * v11[c];
  }
  memcpy(out, acc, sizeof(float) * D);
}

/* Returns 0, or -1 when L * P exceeds MAX_SAMPLES (nothing is written). */
int deform_sample(const float *value, const int64_t *level_starts, const int64_t *level_hs, const int64_t *level_ws,
                  const float *offsets, int64_t offsets_stride, const float *reference, const float *logits,
                  int64_t logits_stride, int64_t row_begin, int64_t row_end, int64_t rows_per_sample,
                  int64_t S, int64_t M, int64_t L, int64_t P, int64_t C, float *out) {
  const int64_t D = C / M, K = L * P;
  if (K > MAX_SAMPLES) return -1;
  int64_t start[MAX_SAMPLES], hs[MAX_SAMPLES], ws[MAX_SAMPLES]; /* per sample point k = l * P + p */
  for (int64_t l = 0; l < L; l++)
    for (int64_t p = 0; p < P; p++) {
      start[l * P + p] = level_starts[l];
      hs[l * P + p] = level_hs[l];
      ws[l * P + p] = level_ws[l];
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (int64_t r = row_begin; r < row_end; r++) {
    const float *sample_value = value + (r / rows_per_sample) * S * C;
    for (int64_t m = 0; m < M; m++) {
      const float *xs = offsets + r * offsets_stride + m * K, *ys = xs + M * K;
      const float *rxs = reference ? reference + (r % rows_per_sample) * 2 * M * K + m * K : NULL;
      const float *rys = reference ? rxs + M * K : NULL;
      const float *lg = logits + r * logits_stride + m * K;
      float *o = out + r * C + m * D;
      /* The usual head width as a constant, so the channel loop unrolls into registers. */
      if (D == 32)
        sample_head(sample_value + m * D, start, hs, ws, xs, ys, rxs, rys, lg, K, C, 32, o);
      else
        sample_head(sample_value + m * D, start, hs, ws, xs, ys, rxs, rys, lg, K, C, D, o);
    }
  }
  return 0;
}

/* 1 when the rows are split over OpenMP threads, else 0 (the caller may split them). */
int deform_sample_parallel(void) {
#ifdef _OPENMP
  return 1;
#else
  return 0;
#endif
}
