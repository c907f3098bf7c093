// BIP-340 batch verification on libsecp256k1's internals (its secp256k1.c must be included
// first, in the same translation unit: everything used here is static there).
//
// For signatures (r_i, s_i) on messages m_i by keys P_i, with R_i = lift_x(r_i) and challenges
// e_i, all are valid exactly when each s_i·G = R_i + e_i·P_i. With random a_i the batch checks
// one sum instead:
//
//     (-Σ a_i·s_i)·G + Σ a_i·R_i + Σ (a_i·e_i)·P_i = ∞
//
// which one multi-scalar multiplication (Strauss or Pippenger, by size) answers for all of them.
// If any signature is invalid the sum is not ∞ except with probability ~2^-128 over the a_i, so
// the a_i must be unpredictable to whoever chose the signatures: they come from a hash of a
// per-process secret and every input of the batch (BIP-340's "Batch Verification" section).
// A batch that fails says only that some signature is bad: the caller then checks one by one.
#ifndef RELAYCAST_BATCH_H
#define RELAYCAST_BATCH_H

#define BATCH_TRIPLE_LEN 128
// Scratch for the multiplication: room for Pippenger over 2 × 256 points; larger batches are
// split by libsecp256k1 itself, so this bounds memory, not correctness.
#define BATCH_SCRATCH_BYTES (4u << 20)

typedef struct {
  secp256k1_scratch* scratch;
  unsigned char secret[32];
  // Grown as needed: per signature its key and whether it takes part, then two terms.
  secp256k1_ge* keys;
  unsigned char* include;
  secp256k1_ge* points;
  secp256k1_scalar* scalars;
  size_t capacity;  // signatures
} batch_state;

typedef struct {
  const secp256k1_ge* points;
  const secp256k1_scalar* scalars;
} batch_terms;

static int batch_term(secp256k1_scalar* sc, secp256k1_ge* pt, size_t idx, void* data) {
  const batch_terms* t = (const batch_terms*)data;
  *sc = t->scalars[idx];
  *pt = t->points[idx];
  return 1;
}

// 0 on allocation failure.
static int batch_init(batch_state* b, const unsigned char secret[32]) {
  memset(b, 0, sizeof(*b));
  memcpy(b->secret, secret, 32);
  b->scratch = secp256k1_scratch_create(&default_error_callback, BATCH_SCRATCH_BYTES);
  return b->scratch != NULL;
}

static void batch_free(batch_state* b) {
  if (b->scratch) secp256k1_scratch_destroy(&default_error_callback, b->scratch);
  free(b->keys);
  free(b->include);
  free(b->points);
  free(b->scalars);
  memset(b, 0, sizeof(*b));
}

// Room for n signatures in keys, include and the terms; 0 if memory ran out.
static int batch_reserve(batch_state* b, size_t n) {
  if (n <= b->capacity) return 1;
  secp256k1_ge* keys = (secp256k1_ge*)realloc(b->keys, n * sizeof(secp256k1_ge));
  if (keys) b->keys = keys;
  unsigned char* include = (unsigned char*)realloc(b->include, n);
  if (include) b->include = include;
  secp256k1_ge* points = (secp256k1_ge*)realloc(b->points, 2 * n * sizeof(secp256k1_ge));
  if (points) b->points = points;
  secp256k1_scalar* scalars = (secp256k1_scalar*)realloc(b->scalars, 2 * n * sizeof(secp256k1_scalar));
  if (scalars) b->scalars = scalars;
  if (!keys || !include || !points || !scalars) return 0;
  b->capacity = n;
  return 1;
}

// Whether every signature i of `triples` (n × sig64 | msg32 | pub32) with b->include[i] set is
// valid for the parsed key b->keys[i] (even y, as x-only keys are). 0 means at least one is not:
// the caller then checks them one by one. Encodings a single check refuses (r >= p, s >= n, no
// point with x = r) give 0 too, so they need no check before.
static int batch_verify_all(batch_state* b, const unsigned char* triples, size_t n) {
  // seed = sha256(secret || every input): the a_i depend on everything the sender chose.
  unsigned char seed[32];
  secp256k1_sha256 sha;
  secp256k1_sha256_initialize(&sha);
  secp256k1_sha256_write(&sha, b->secret, 32);
  secp256k1_sha256_write(&sha, triples, n * BATCH_TRIPLE_LEN);
  secp256k1_sha256_finalize(&sha, seed);

  secp256k1_scalar g_sum;  // Σ a_i·s_i
  secp256k1_scalar_set_int(&g_sum, 0);
  unsigned char a_bytes[32] = {0};
  unsigned char block[32];
  size_t m = 0;  // terms so far
  for (size_t i = 0; i < n; i++) {
    // a_i: 128 bits of sha256(seed || i / 2), two per hash, for every i so they never shift.
    if (i % 2 == 0) {
      unsigned char counter[8];
      for (int j = 0; j < 8; j++) counter[j] = (unsigned char)((uint64_t)i >> (8 * j));
      secp256k1_sha256_initialize(&sha);
      secp256k1_sha256_write(&sha, seed, 32);
      secp256k1_sha256_write(&sha, counter, 8);
      secp256k1_sha256_finalize(&sha, block);
    }
    if (!b->include[i]) continue;
    const unsigned char* sig = triples + i * BATCH_TRIPLE_LEN;
    const unsigned char* msg = sig + 64;
    const unsigned char* pub = sig + 96;

    secp256k1_fe rx;
    secp256k1_ge r;
    secp256k1_scalar s, e, a, as;
    int overflow = 0;
    if (!secp256k1_fe_set_b32(&rx, sig)) return 0;          // r >= p
    if (!secp256k1_ge_set_xo_var(&r, &rx, 0)) return 0;      // no point with x = r
    secp256k1_scalar_set_b32(&s, sig + 32, &overflow);
    if (overflow) return 0;                                  // s >= n
    secp256k1_schnorrsig_challenge(&e, sig, msg, 32, pub);  // a parsed key's x is its 32 bytes

    memcpy(a_bytes + 16, block + (i % 2) * 16, 16);
    secp256k1_scalar_set_b32(&a, a_bytes, NULL);
    if (secp256k1_scalar_is_zero(&a)) secp256k1_scalar_set_int(&a, 1);  // probability 2^-128

    secp256k1_scalar_mul(&as, &a, &s);
    secp256k1_scalar_add(&g_sum, &g_sum, &as);
    b->points[m] = r;
    b->scalars[m++] = a;
    b->points[m] = b->keys[i];
    secp256k1_scalar_mul(&b->scalars[m++], &a, &e);
  }
  if (m == 0) return 1;
  secp256k1_scalar_negate(&g_sum, &g_sum);

  batch_terms terms = {b->points, b->scalars};
  secp256k1_gej sum;
  if (!secp256k1_ecmult_multi_var(&default_error_callback, b->scratch, &sum, &g_sum, batch_term, &terms, m)) return 0;
  return secp256k1_gej_is_infinity(&sum);
}

#endif
