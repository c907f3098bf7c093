// BIP-340 signature verification for the relay, on libsecp256k1 (>= 0.2.0).
//
//   verify(sig64, msg32, pub32) -> boolean
//   verifyBatch(triples)        -> Uint8Array   triples: N x (sig64 | msg32 | pub32), result[i] is 1 or 0
//   batched                     -> boolean      whether verifyBatch checks a chunk in one sum (batch.h)
//
// Built by build-native.js in one of two ways:
// - RELAYCAST_BUNDLED_SECP256K1: the library's own sources (Debian's source tarball) compiled
//   into this file, because batch verification needs its internals, which are static there.
//   A batch of 256 costs ~0.6 of a single check per signature on this project's machines; one
//   that fails (some signature is bad) is then checked one by one, ~1.6 single checks each, so
//   a flood of bad signatures costs at most that much more than with no batching.
// - otherwise against the system library's public API: every signature checked alone.
// Verification needs no secrets and no precomputed context since 0.2.0, so the read-only
// secp256k1_context_static serves every single check with no allocation and no shared state.
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#ifdef RELAYCAST_BUNDLED_SECP256K1
#include "secp256k1.c"
#include "batch.h"
#if defined(__linux__)
#include <sys/random.h>
#endif
#else
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#endif

#define SIG_LEN 64
#define MSG_LEN 32
#define PUB_LEN 32
#define TRIPLE_LEN (SIG_LEN + MSG_LEN + PUB_LEN)

// Parsing an x-only key costs a square root (~7 us here, ~9% of a check). Live chat comes from a
// few hundred authors at a time, so each thread (napi instance data: the main thread and the
// verify worker have their own) keeps parsed keys in a small direct-mapped cache. Keyed by the
// full 32 bytes, so a collision only costs a parse, never a wrong answer.
#define KEY_CACHE_SLOTS 1024
typedef struct {
  unsigned char pub[KEY_CACHE_SLOTS][PUB_LEN];
  secp256k1_xonly_pubkey parsed[KEY_CACHE_SLOTS];
  unsigned char state[KEY_CACHE_SLOTS];  // 0 empty, 1 valid key, 2 not a key
} key_cache;

// Per thread (napi instance data), so no locks: the main thread and the verify worker each have
// their own.
typedef struct {
  key_cache cache;
#ifdef RELAYCAST_BUNDLED_SECP256K1
  batch_state batch;
  int batching;  // 0 when the scratch or the secret could not be had: then every check is single
#endif
} thread_state;

static void free_thread_state(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
#ifdef RELAYCAST_BUNDLED_SECP256K1
  batch_free(&((thread_state*)data)->batch);
#endif
  free(data);
}

#ifdef RELAYCAST_BUNDLED_SECP256K1
// Fewer signatures than this are checked one by one: a failed batch would cost more than the
// few microseconds a small one saves.
#define BATCH_MIN 4

// The batch's secret comes from the OS; without one there is no batching.
static int random_secret(unsigned char out[32]) {
#if defined(__linux__)
  return getrandom(out, 32, 0) == 32;
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__)
  arc4random_buf(out, 32);
  return 1;
#else
  (void)out;
  return 0;
#endif
}
#endif

// Whether `pub` is a valid x-only key; if so *out points at its parsed form (in the cache, or in
// `scratch` when there is no cache).
static int parse_key(key_cache* cache, const unsigned char* pub, secp256k1_xonly_pubkey* scratch, const secp256k1_xonly_pubkey** out) {
  if (!cache) {
    *out = scratch;
    return secp256k1_xonly_pubkey_parse(secp256k1_context_static, scratch, pub);
  }
  size_t slot = ((size_t)pub[0] << 8 | pub[1]) % KEY_CACHE_SLOTS;
  if (cache->state[slot] == 0 || memcmp(cache->pub[slot], pub, PUB_LEN) != 0) {
    memcpy(cache->pub[slot], pub, PUB_LEN);
    cache->state[slot] = secp256k1_xonly_pubkey_parse(secp256k1_context_static, &cache->parsed[slot], pub) ? 1 : 2;
  }
  *out = &cache->parsed[slot];
  return cache->state[slot] == 1;
}

static int verify_parsed(const unsigned char* sig, const unsigned char* msg, const secp256k1_xonly_pubkey* pk) {
  return secp256k1_schnorrsig_verify(secp256k1_context_static, sig, msg, MSG_LEN, pk);
}

// The bytes of a Uint8Array argument, or NULL (with a pending TypeError) if it is not one of `len`
// bytes; len 0 accepts any length that is a multiple of TRIPLE_LEN.
static const unsigned char* bytes_arg(napi_env env, napi_value value, size_t len, size_t* out_len, const char* what) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = NULL;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array ||
      (len != 0 && length != len) || (len == 0 && length % TRIPLE_LEN != 0)) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  if (out_len) *out_len = length;
  // A zero-length view may have no backing store; callers never read from it then.
  return data ? (const unsigned char*)data : (const unsigned char*)"";
}

static napi_value verify(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "verify(sig64, msg32, pub32) takes three Uint8Arrays");
    return NULL;
  }
  const unsigned char* sig = bytes_arg(env, argv[0], SIG_LEN, NULL, "sig must be a Uint8Array of 64 bytes");
  if (!sig) return NULL;
  const unsigned char* msg = bytes_arg(env, argv[1], MSG_LEN, NULL, "msg must be a Uint8Array of 32 bytes");
  if (!msg) return NULL;
  const unsigned char* pub = bytes_arg(env, argv[2], PUB_LEN, NULL, "pub must be a Uint8Array of 32 bytes");
  if (!pub) return NULL;

  secp256k1_xonly_pubkey pk;
  int ok = secp256k1_xonly_pubkey_parse(secp256k1_context_static, &pk, pub) && verify_parsed(sig, msg, &pk);
  napi_value result;
  napi_get_boolean(env, ok != 0, &result);
  return result;
}

static napi_value verify_batch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "verifyBatch(triples) takes one Uint8Array");
    return NULL;
  }
  size_t length = 0;
  const unsigned char* in =
      bytes_arg(env, argv[0], 0, &length, "triples must be a Uint8Array of N x 128 bytes (sig64 | msg32 | pub32)");
  if (!in) return NULL;
  size_t n = length / TRIPLE_LEN;

  void* out_data = NULL;
  napi_value out_buffer, out;
  if (napi_create_arraybuffer(env, n, &out_data, &out_buffer) != napi_ok) return NULL;
  if (napi_create_typedarray(env, napi_uint8_array, n, out_buffer, 0, &out) != napi_ok) return NULL;
  unsigned char* results = (unsigned char*)out_data;

  thread_state* state = NULL;
  if (napi_get_instance_data(env, (void**)&state) != napi_ok) state = NULL;
  key_cache* cache = state ? &state->cache : NULL;
  secp256k1_xonly_pubkey scratch;
#ifdef RELAYCAST_BUNDLED_SECP256K1
  batch_state* batch = state && state->batching && n >= BATCH_MIN && batch_reserve(&state->batch, n) ? &state->batch : NULL;
#endif
  size_t keyed = 0;
  for (size_t i = 0; i < n; i++) {
    const secp256k1_xonly_pubkey* pk = NULL;
    results[i] = (unsigned char)parse_key(cache, in + i * TRIPLE_LEN + SIG_LEN + MSG_LEN, &scratch, &pk);
    keyed += results[i];
#ifdef RELAYCAST_BUNDLED_SECP256K1
    if (batch) {
      batch->include[i] = results[i];
      if (results[i]) secp256k1_xonly_pubkey_load(secp256k1_context_static, &batch->keys[i], pk);
    }
#endif
  }
#ifdef RELAYCAST_BUNDLED_SECP256K1
  // All good in one sum; otherwise some signature is bad, and each is checked alone below.
  if (batch && keyed >= BATCH_MIN && batch_verify_all(batch, in, n)) return out;
#endif
  for (size_t i = 0; i < n; i++) {
    if (!results[i]) continue;
    const unsigned char* sig = in + i * TRIPLE_LEN;
    const secp256k1_xonly_pubkey* pk = NULL;
    parse_key(cache, sig + SIG_LEN + MSG_LEN, &scratch, &pk);
    results[i] = (unsigned char)verify_parsed(sig, sig + SIG_LEN, pk);
  }
  return out;
}

NAPI_MODULE_INIT() {
  // Recommended with the static context: it has no randomization, so check the build once.
  secp256k1_selftest();
  // Without this state (out of memory) every key is parsed and every signature checked alone:
  // slower, same answers.
  thread_state* state = (thread_state*)calloc(1, sizeof(thread_state));
  int batching = 0;
#ifdef RELAYCAST_BUNDLED_SECP256K1
  if (state) {
    unsigned char secret[32];
    state->batching = random_secret(secret) && batch_init(&state->batch, secret);
    memset(secret, 0, sizeof(secret));
    batching = state->batching;
  }
#endif
  if (state && napi_set_instance_data(env, state, free_thread_state, NULL) != napi_ok) {
    free_thread_state(env, state, NULL);
    batching = 0;
  }
  napi_value batched;
  if (napi_get_boolean(env, batching != 0, &batched) != napi_ok) return NULL;
  napi_property_descriptor props[] = {
      {"verify", NULL, verify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"verifyBatch", NULL, verify_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"batched", NULL, NULL, NULL, NULL, batched, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}
