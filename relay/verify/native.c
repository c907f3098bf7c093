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
#include <string.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#define SIG_LEN 64
#define MSG_LEN 32
#define PUB_LEN 32
#define TRIPLE_LEN (SIG_LEN + MSG_LEN + PUB_LEN)

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

  // Chat arrives in runs from the same author: parsing a key costs a square root, so reuse it.
  secp256k1_xonly_pubkey pk;
  const unsigned char* last_pub = NULL;
  int last_pub_ok = 0;
  for (size_t i = 0; i < n; i++) {
    const unsigned char* sig = in + i * TRIPLE_LEN;
    const unsigned char* msg = sig + SIG_LEN;
    const unsigned char* pub = msg + MSG_LEN;
    if (!last_pub || memcmp(last_pub, pub, PUB_LEN) != 0) {
      last_pub_ok = secp256k1_xonly_pubkey_parse(secp256k1_context_static, &pk, pub);
      last_pub = pub;
    }
    results[i] = (unsigned char)(last_pub_ok && verify_parsed(sig, msg, &pk));
  }
  return out;
}

NAPI_MODULE_INIT() {
  // Recommended with the static context: it has no randomization, so check the build once.
  secp256k1_selftest();
  napi_property_descriptor props[] = {
      {"verify", NULL, verify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"verifyBatch", NULL, verify_batch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}
