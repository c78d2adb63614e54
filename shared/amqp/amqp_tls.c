/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* TLS for broker connections, on the SSL_CTX librabbitmq creates per
 * socket: client certificate and key, CA, TLS >= 1.2, and verification of
 * the broker's certificate and name by OpenSSL itself (librabbitmq 0.11's
 * own host check matches DNS names only, never an IP address in the
 * certificate, so it is turned off). A verify callback keeps the reason a
 * certificate was rejected, which OpenSSL's error queue reduces to
 * "certificate verify failed". */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "errors.h"
#include "amqp_int.h"

static int set_err(char *err, size_t errsize, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int set_err(char *err, size_t errsize, int code, const char *fmt, ...)
{
	if (err != NULL && errsize > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errsize, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* OpenSSL's most specific reason, then an empty queue. */
static const char *ssl_queue_reason(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	snprintf(buf, size, "%s", r ? r : "unknown TLS error");
	ERR_clear_error();
	return buf;
}

/* A file we must read: say which and why before OpenSSL does it worse. */
static int check_readable(const char *what, const char *path, char *err, size_t errsize)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		int e = errno;
		return set_err(err, errsize, hg_err_from_errno(e), "%s %s: %s", what, path,
		               strerror(e));
	}
	fclose(f);
	return HG_EOK;
}

/* A passphrase prompt would block a daemon: refuse encrypted keys. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return NULL;
	}
	EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	return key;
}

int amqp_tls_preflight(const hg_amqp_config_t *cfg, char *err, size_t errsize)
{
	char why[160];
	int ret = check_readable("certificate", cfg->tls_cert, err, errsize);
	if (ret == HG_EOK) {
		ret = check_readable("key", cfg->tls_key, err, errsize);
	}
	if (ret == HG_EOK) {
		ret = check_readable("CA file", cfg->tls_ca, err, errsize);
	}
	if (ret != HG_EOK) {
		return ret;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		return set_err(err, errsize, HG_ENOMEM, "cannot create a TLS context: %s",
		               ssl_queue_reason(why, sizeof(why)));
	}
	ERR_clear_error();
	EVP_PKEY *key = read_key(cfg->tls_key);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		ret = set_err(err, errsize, HG_EINVAL, "certificate %s: not a PEM certificate (%s)",
		              cfg->tls_cert, ssl_queue_reason(why, sizeof(why)));
	} else if (key == NULL) {
		ret = set_err(err, errsize, HG_EINVAL,
		              "key %s: not a PEM private key, or protected by a passphrase (%s)",
		              cfg->tls_key, ssl_queue_reason(why, sizeof(why)));
	} else if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		ret = set_err(err, errsize, HG_EINVAL,
		              "key %s is not the key of certificate %s (%s)", cfg->tls_key,
		              cfg->tls_cert, ssl_queue_reason(why, sizeof(why)));
	} else if (SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL) != 1) {
		ret = set_err(err, errsize, HG_EINVAL, "CA file %s: no PEM certificate (%s)",
		              cfg->tls_ca, ssl_queue_reason(why, sizeof(why)));
	}
	EVP_PKEY_free(key);
	SSL_CTX_free(ctx);
	return ret;
}

/* ---- verification, per connection ---- */

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void ex_init(void)
{
	ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int verify_cb(int ok, X509_STORE_CTX *store)
{
	if (ok) {
		return 1;
	}
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	hg_amqp_t *c = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index) : NULL;
	if (c != NULL && c->verify_err[0] == '\0') {
		int depth = X509_STORE_CTX_get_error_depth(store);
		int e = X509_STORE_CTX_get_error(store);
		char hint[HG_AMQP_HOST_MAX + 64] = "";
		if (e == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
		    e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
		    e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		    e == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE) {
			snprintf(hint, sizeof(hint), " (not issued by the CA file)");
		} else if ((e == X509_V_ERR_HOSTNAME_MISMATCH ||
		            e == X509_V_ERR_IP_ADDRESS_MISMATCH) &&
		           c->cur >= 0) {
			snprintf(hint, sizeof(hint), " (it does not name %s)",
			         c->uris.uri[c->cur].host);
		}
		amqp_fmt(c->verify_err, sizeof(c->verify_err),
		         "broker certificate%s rejected: %s%s", depth > 0 ? " chain" : "",
		         X509_verify_cert_error_string(e), hint);
	}
	return 0; /* still rejected: this callback only records why */
}

static bool is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int amqp_tls_setup(hg_amqp_t *c, amqp_socket_t *sock, const char *host, char *why, size_t size)
{
	char r[160];
	pthread_once(&ex_once, ex_init);
	SSL_CTX *ctx = amqp_ssl_socket_get_context(sock);
	ERR_clear_error();
	if (ex_index < 0 || SSL_CTX_set_ex_data(ctx, ex_index, c) != 1) {
		return set_err(why, size, HG_ENOMEM, "TLS setup failed: %s",
		               ssl_queue_reason(r, sizeof(r)));
	}
	if (amqp_ssl_socket_set_cacert(sock, c->tls_ca) != AMQP_STATUS_OK) {
		return set_err(why, size, HG_EINVAL, "CA file %s: %s", c->tls_ca,
		               ssl_queue_reason(r, sizeof(r)));
	}
	if (amqp_ssl_socket_set_key(sock, c->tls_cert, c->tls_key) != AMQP_STATUS_OK) {
		return set_err(why, size, HG_EINVAL, "certificate %s / key %s: %s", c->tls_cert,
		               c->tls_key, ssl_queue_reason(r, sizeof(r)));
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
	int ok = is_ip_literal(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
	                             : X509_VERIFY_PARAM_set1_host(param, host, 0);
	if (ok != 1) {
		return set_err(why, size, HG_EINVAL, "TLS setup failed for host %s: %s", host,
		               ssl_queue_reason(r, sizeof(r)));
	}
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	amqp_ssl_socket_set_verify_peer(sock, 1);
	amqp_ssl_socket_set_verify_hostname(sock, 0); /* OpenSSL checks it, above */
	return HG_EOK;
}

/* TLS alerts by which a broker says it does not accept our certificate. */
static bool refusal_alert(const char *reason)
{
	static const char *const alerts[] = {
		"alert unknown ca",          "alert certificate unknown",
		"alert bad certificate",     "alert certificate required",
		"alert certificate expired", "alert certificate revoked",
		"alert access denied",       "alert unsupported certificate",
	};
	for (size_t i = 0; i < sizeof(alerts) / sizeof(alerts[0]); i++) {
		if (strstr(reason, alerts[i]) != NULL) {
			return true;
		}
	}
	return false;
}

void amqp_tls_reason(hg_amqp_t *c, int saved_errno, char *buf, size_t size, bool *refused)
{
	char r[160];
	bool ref = false;
	if (c->verify_err[0] != '\0') {
		snprintf(buf, size, "%s", c->verify_err);
		ERR_clear_error();
	} else if (ERR_peek_last_error() == 0) {
		/* No alert read: the broker closed first (a reset can discard an
		 * alert still in our receive queue). */
		snprintf(buf, size, "the broker ended the TLS session%s%s%s",
		         saved_errno ? " (" : "", saved_errno ? strerror(saved_errno) : "",
		         saved_errno ? ")" : "");
	} else {
		ssl_queue_reason(r, sizeof(r));
		ref = refusal_alert(r);
		snprintf(buf, size, "%s%s", r,
		         ref ? " (the broker does not accept our client certificate)" : "");
	}
	if (refused != NULL) {
		*refused = ref;
	}
}

/* ---- certificate subject ---- */

int hg_amqp_cert_cn(const char *path, char *cn, size_t size, char *err, size_t errsize)
{
	char r[160];
	int ret = HG_EOK;
	X509 *x = NULL;
	unsigned char *utf8 = NULL;
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		int e = errno;
		return set_err(err, errsize, hg_err_from_errno(e), "certificate %s: %s", path,
		               strerror(e));
	}
	ERR_clear_error();
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		ret = set_err(err, errsize, HG_EINVAL, "certificate %s: no PEM certificate (%s)",
		              path, ssl_queue_reason(r, sizeof(r)));
		goto cleanup;
	}
	X509_NAME *name = X509_get_subject_name(x);
	int idx = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
	if (idx < 0) {
		ret = set_err(err, errsize, HG_EINVAL, "certificate %s: its subject has no CN",
		              path);
		goto cleanup;
	}
	if (X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0) {
		ret = set_err(
		        err, errsize, HG_EINVAL,
		        "certificate %s: its subject has several CNs (the broker's user would "
		        "be ambiguous)",
		        path);
		goto cleanup;
	}
	int len = ASN1_STRING_to_UTF8(&utf8,
	                              X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
	if (len < 0) {
		ret = set_err(err, errsize, HG_EINVAL, "certificate %s: unreadable CN", path);
		goto cleanup;
	}
	if ((size_t)len >= size || memchr(utf8, '\0', (size_t)len) != NULL) {
		ret = set_err(err, errsize, (size_t)len >= size ? HG_ERANGE : HG_EINVAL,
		              "certificate %s: CN too long or with a NUL byte", path);
		goto cleanup;
	}
	memcpy(cn, utf8, (size_t)len);
	cn[len] = '\0';
cleanup:
	OPENSSL_free(utf8);
	X509_free(x);
	return ret;
}
