// BIP-340 signature verification for the relay, via the system libsecp256k1 (>= 0.2.0).
//
//   verify(sig64, msg32, pub32) -> boolean
//   verifyBatch(triples)        -> Uint8Array   triples: N x (sig64 | msg32 | pub32), result[i] is 1 or 0
//
// Verification needs no secrets and no precomputed context since 0.2.0, so the read-only
// secp256k1_context_static serves every call with no allocation and no shared mutable state.
// Built by build-native.js with a plain C compiler; valid C and C++ so either driver works.
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

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

static void free_key_cache(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  free(data);
}

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

  key_cache* cache = NULL;
  if (napi_get_instance_data(env, (void**)&cache) != napi_ok) cache = NULL;
  secp256k1_xonly_pubkey scratch;
  for (size_t i = 0; i < n; i++) {
    const unsigned char* sig = in + i * TRIPLE_LEN;
    const unsigned char* msg = sig + SIG_LEN;
    const unsigned char* pub = msg + MSG_LEN;
    const secp256k1_xonly_pubkey* pk = NULL;
    results[i] = (unsigned char)(parse_key(cache, pub, &scratch, &pk) && verify_parsed(sig, msg, pk));
  }
  return out;
}

NAPI_MODULE_INIT() {
  // Recommended with the static context: it has no randomization, so check the build once.
  secp256k1_selftest();
  // Without a cache (out of memory) every key is parsed: slower, same answers.
  key_cache* cache = (key_cache*)calloc(1, sizeof(key_cache));
  if (cache && napi_set_instance_data(env, cache, free_key_cache, NULL) != napi_ok) free(cache);
  napi_property_descriptor props[] = {
      {"verify", NULL, verify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"verifyBatch", NULL, verify_batch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}
