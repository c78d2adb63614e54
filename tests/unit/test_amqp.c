/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* libhg_amqp's pure parts: broker URI lists (one line per case: what
 * parses to what, what is refused with which words), the backoff, the
 * certificate CN, and the TLS file checks of hg_amqp_new() on
 * certificates made here with OpenSSL. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "errors.h"
#include "hg_amqp.h"
#include "tap.h"

/* ---- URI lists ---- */

typedef struct {
	const char *in;
	int ret;
	size_t n;
	const char *host, *vhost, *text; /* of the last URI */
	unsigned port;
	const char *err; /* a part of the error text */
} uri_case_t;

static const uri_case_t uri_cases[] = {
	{ "amqps://b1:5671", HG_EOK, 1, "b1", "/", "amqps://b1:5671", 5671, NULL },
	{ "amqps://10.0.0.1:5672", HG_EOK, 1, "10.0.0.1", "/", "amqps://10.0.0.1:5672", 5672,
	  NULL },
	{ "amqps://b1", HG_EOK, 1, "b1", "/", "amqps://b1:5671", 5671, NULL },
	{ "AMQPS://B1:1", HG_EOK, 1, "B1", "/", "amqps://B1:1", 1, NULL },
	{ "amqps://b1:5671/", HG_EOK, 1, "b1", "/", "amqps://b1:5671", 5671, NULL },
	{ "amqps://b1:5671/fleet", HG_EOK, 1, "b1", "fleet", "amqps://b1:5671/fleet", 5671, NULL },
	{ "amqps://b1:5671/%2F", HG_EOK, 1, "b1", "/", "amqps://b1:5671", 5671, NULL },
	{ "amqps://b1:5671/a%2fb", HG_EOK, 1, "b1", "a/b", "amqps://b1:5671/a%2fb", 5671, NULL },
	{ "amqps://[::1]:5671", HG_EOK, 1, "::1", "/", "amqps://[::1]:5671", 5671, NULL },
	{ "amqps://[fd00::1]", HG_EOK, 1, "fd00::1", "/", "amqps://[fd00::1]:5671", 5671, NULL },
	{ "amqps://a:1,amqps://b:2", HG_EOK, 2, "b", "/", "amqps://b:2", 2, NULL },
	{ " amqps://a:1 , amqps://b.example.net:65535 ", HG_EOK, 2, "b.example.net", "/",
	  "amqps://b.example.net:65535", 65535, NULL },
	{ "amqp://b1:5672", HG_EINVAL, 0, NULL, NULL, NULL, 0, "plain amqp:// is refused" },
	{ "amqps://a:1,amqp://b:2", HG_EINVAL, 0, NULL, NULL, NULL, 0, "'amqp://b:2': plain" },
	{ "http://b1", HG_EINVAL, 0, NULL, NULL, NULL, 0, "expected amqps://" },
	{ "b1:5671", HG_EINVAL, 0, NULL, NULL, NULL, 0, "expected amqps://" },
	{ "", HG_EINVAL, 0, NULL, NULL, NULL, 0, "empty URI" },
	{ "amqps://a:1,", HG_EINVAL, 0, NULL, NULL, NULL, 0, "empty URI" },
	{ "amqps://a:1,,amqps://b:1", HG_EINVAL, 0, NULL, NULL, NULL, 0, "empty URI" },
	{ "amqps://", HG_EINVAL, 0, NULL, NULL, NULL, 0, "no host" },
	{ "amqps://:5671", HG_EINVAL, 0, NULL, NULL, NULL, 0, "no host" },
	{ "amqps://b1:", HG_EINVAL, 0, NULL, NULL, NULL, 0, "port must be 1-65535" },
	{ "amqps://b1:0", HG_EINVAL, 0, NULL, NULL, NULL, 0, "port must be 1-65535" },
	{ "amqps://b1:65536", HG_EINVAL, 0, NULL, NULL, NULL, 0, "port must be 1-65535" },
	{ "amqps://b1:56x", HG_EINVAL, 0, NULL, NULL, NULL, 0, "port must be 1-65535" },
	{ "amqps://b1:-1", HG_EINVAL, 0, NULL, NULL, NULL, 0, "port must be 1-65535" },
	{ "amqps://user:pw@b1:5671", HG_EINVAL, 0, NULL, NULL, NULL, 0, "no user or password" },
	{ "amqps://b1:5671?heartbeat=5", HG_EINVAL, 0, NULL, NULL, NULL, 0, "no query" },
	{ "amqps://b1:5671/v#x", HG_EINVAL, 0, NULL, NULL, NULL, 0, "no query or fragment" },
	{ "amqps://b1:5671/a/b", HG_EINVAL, 0, NULL, NULL, NULL, 0, "write %2F" },
	{ "amqps://b1:5671/%zz", HG_EINVAL, 0, NULL, NULL, NULL, 0, "bad percent escape" },
	{ "amqps://b1:5671/%2", HG_EINVAL, 0, NULL, NULL, NULL, 0, "bad percent escape" },
	{ "amqps://b1:5671/%00", HG_EINVAL, 0, NULL, NULL, NULL, 0, "bad percent escape" },
	{ "amqps://b 1:5671", HG_EINVAL, 0, NULL, NULL, NULL, 0, "unexpected ' '" },
	{ "amqps://[::1:5671", HG_EINVAL, 0, NULL, NULL, NULL, 0, "'[' without ']'" },
	{ "amqps://[zz]:5671", HG_EINVAL, 0, NULL, NULL, NULL, 0, "not an IPv6 address" },
	{ "amqps://[::1]x", HG_EINVAL, 0, NULL, NULL, NULL, 0, "unexpected 'x'" },
};

static void test_uri_cases(void)
{
	for (size_t i = 0; i < sizeof(uri_cases) / sizeof(uri_cases[0]); i++) {
		const uri_case_t *c = &uri_cases[i];
		hg_amqp_uris_t u;
		char err[HG_AMQP_ERR_MAX] = "";
		int ret = hg_amqp_uris_parse(c->in, &u, err, sizeof(err));
		is_int(ret, c->ret, "'%s': %s", c->in, c->ret == HG_EOK ? "parses" : "refused");
		if (c->ret != HG_EOK) {
			ok(strstr(err, c->err) != NULL, "'%s': error says '%s' (got: %s)", c->in,
			   c->err, err);
			continue;
		}
		is_int(u.n, c->n, "'%s': %zu URI(s)", c->in, c->n);
		const hg_amqp_uri_t *last = &u.uri[u.n - 1];
		is_str(last->host, c->host, "'%s': host", c->in);
		is_int(last->port, c->port, "'%s': port", c->in);
		is_str(last->vhost, c->vhost, "'%s': vhost", c->in);
		is_str(last->text, c->text, "'%s': text", c->in);
	}
}

static void test_uri_limits(void)
{
	char buf[4096] = "";
	for (int i = 0; i < HG_AMQP_URIS_MAX; i++) {
		strcat(buf, i ? ",amqps://b:1" : "amqps://b:1");
	}
	hg_amqp_uris_t u;
	char err[HG_AMQP_ERR_MAX];
	is_int(hg_amqp_uris_parse(buf, &u, err, sizeof(err)), HG_EOK, "%d URIs accepted",
	       HG_AMQP_URIS_MAX);
	strcat(buf, ",amqps://b:1");
	is_int(hg_amqp_uris_parse(buf, &u, err, sizeof(err)), HG_ERANGE, "%d URIs refused",
	       HG_AMQP_URIS_MAX + 1);
	ok(strstr(err, "more than 16") != NULL, "error says the limit (%s)", err);

	char host[HG_AMQP_HOST_MAX + 2];
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, sizeof(buf), "amqps://%s:1", host);
	is_int(hg_amqp_uris_parse(buf, &u, err, sizeof(err)), HG_ERANGE, "host of %d bytes refused",
	       HG_AMQP_HOST_MAX + 1);
	host[HG_AMQP_HOST_MAX] = '\0';
	snprintf(buf, sizeof(buf), "amqps://%s:65535", host);
	is_int(hg_amqp_uris_parse(buf, &u, err, sizeof(err)), HG_EOK, "host of %d bytes accepted",
	       HG_AMQP_HOST_MAX);
	is_int(hg_amqp_uris_parse(NULL, &u, err, sizeof(err)), HG_EINVAL, "NULL refused");
	is_int(hg_amqp_uris_parse("amqp://x", &u, NULL, 0), HG_EINVAL, "no error buffer is fine");
}

/* ---- backoff ---- */

static void test_backoff(void)
{
	static const struct {
		unsigned rounds;
		uint32_t base, max;
		uint64_t rnd;
		uint32_t want;
	} cases[] = {
		{ 0, 500, 30000, 12345, 0 }, /* no failure: no wait */
		{ 1, 500, 30000, 0, 250 },   /* [250, 500] */
		{ 1, 500, 30000, 250, 500 },
		{ 1, 500, 30000, 251, 250 },           /* wraps inside the range */
		{ 2, 500, 30000, 0, 500 },             /* [500, 1000] */
		{ 3, 500, 30000, 1000, 2000 },         /* [1000, 2000] */
		{ 7, 500, 30000, 0, 15000 },           /* 32000 capped to 30000 */
		{ 1000000, 500, 30000, 15000, 30000 }, /* no overflow, still capped */
		{ 4, 0, 0, 7, 1 },                     /* degenerate: base 1 ms, cap = base */
		{ 2, 1000, 100, 0, 500 },              /* cap below base: base wins */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_int(hg_amqp_backoff_ms(cases[i].rounds, cases[i].base, cases[i].max,
		                          cases[i].rnd),
		       cases[i].want, "backoff(%u rounds, %u, %u, rnd %llu)", cases[i].rounds,
		       cases[i].base, cases[i].max, (unsigned long long)cases[i].rnd);
	}
	/* Jitter spreads: over many random values the whole [n/2, n] is used. */
	uint32_t lo = UINT32_MAX, hi = 0;
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 10000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint32_t d = hg_amqp_backoff_ms(3, 500, 30000, x);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	ok(lo >= 1000 && lo < 1010 && hi <= 2000 && hi > 1990,
	   "round 3 delays spread over [1000, 2000] (saw %u..%u)", lo, hi);
}

/* ---- certificates ---- */

static EVP_PKEY *make_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* A self-signed certificate with subject CN \a cn (NULL: none, "2": two). */
static void write_cert(const char *path, EVP_PKEY *key, const char *cn, const char *cn2)
{
	X509 *x = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"tests", -1, -1,
	                           0);
	if (cn != NULL) {
		X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
		                           -1, 0);
	}
	if (cn2 != NULL) {
		X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn2,
		                           -1, -1, 0);
	}
	X509_set_issuer_name(x, name);
	X509_sign(x, key, EVP_sha256());
	FILE *f = fopen(path, "w");
	PEM_write_X509(f, x);
	fclose(f);
	X509_free(x);
}

static void write_key(const char *path, EVP_PKEY *key)
{
	FILE *f = fopen(path, "w");
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
}

static void test_certs(const char *dir)
{
	char cert[512], cert0[512], cert2[512], key[512], other_key[512], junk[512], missing[512];
	snprintf(cert, sizeof(cert), "%s/eu-fra.pem", dir);
	snprintf(cert0, sizeof(cert0), "%s/nocn.pem", dir);
	snprintf(cert2, sizeof(cert2), "%s/twocn.pem", dir);
	snprintf(key, sizeof(key), "%s/eu-fra.key", dir);
	snprintf(other_key, sizeof(other_key), "%s/other.key", dir);
	snprintf(junk, sizeof(junk), "%s/junk.pem", dir);
	snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
	EVP_PKEY *k = make_key(), *k2 = make_key();
	write_cert(cert, k, "eu-fra", NULL);
	write_cert(cert0, k, NULL, NULL);
	write_cert(cert2, k, "a", "b");
	write_key(key, k);
	write_key(other_key, k2);
	FILE *f = fopen(junk, "w");
	fputs("not a certificate\n", f);
	fclose(f);

	char cn[64], err[HG_AMQP_ERR_MAX];
	is_int(hg_amqp_cert_cn(cert, cn, sizeof(cn), err, sizeof(err)), HG_EOK, "CN read");
	is_str(cn, "eu-fra", "CN is the subject's");
	is_int(hg_amqp_cert_cn(cert, cn, 6, err, sizeof(err)), HG_ERANGE,
	       "CN longer than the buffer");
	is_int(hg_amqp_cert_cn(cert0, cn, sizeof(cn), err, sizeof(err)), HG_EINVAL,
	       "no CN refused");
	ok(strstr(err, "has no CN") != NULL, "error says no CN (%s)", err);
	is_int(hg_amqp_cert_cn(cert2, cn, sizeof(cn), err, sizeof(err)), HG_EINVAL,
	       "two CNs refused");
	ok(strstr(err, "several CNs") != NULL, "error says several CNs (%s)", err);
	is_int(hg_amqp_cert_cn(junk, cn, sizeof(cn), err, sizeof(err)), HG_EINVAL, "junk refused");
	ok(strstr(err, junk) != NULL && strstr(err, "no PEM certificate") != NULL,
	   "error names the file (%s)", err);
	is_int(hg_amqp_cert_cn(missing, cn, sizeof(cn), err, sizeof(err)), HG_ENOENT,
	       "missing file");
	ok(strstr(err, "No such file") != NULL, "error says why (%s)", err);

	/* hg_amqp_new() checks the files before anything connects. */
	hg_amqp_uris_t uris;
	hg_amqp_uris_parse("amqps://127.0.0.1:1", &uris, NULL, 0);
	hg_amqp_config_t cfg = { .uris = &uris,
		                 .tls_cert = cert,
		                 .tls_key = key,
		                 .tls_ca = cert,
		                 .identity = "eu-fra" };
	hg_amqp_t *c = NULL;
	is_int(hg_amqp_new(&cfg, &c, err, sizeof(err)), HG_EOK, "good files accepted (%s)", err);
	ok(c != NULL && !hg_amqp_connected(c) && hg_amqp_fd(c) == -1 && hg_amqp_state(c) == NULL,
	   "a new connection is not connected");
	is_str(hg_amqp_uri(c), "", "no URI tried yet");
	is_int(hg_amqp_retry_delay_ms(c), 0, "no delay before the first round");
	hg_amqp_free(c);

	static const struct {
		const char *what;
		int field; /* 0 cert, 1 key, 2 ca, 3 identity */
		const char *val;
		int ret;
		const char *err;
	} bad[] = {
		{ "missing certificate", 0, "/nonexistent/c.pem", HG_ENOENT,
		  "certificate /nonexistent" },
		{ "junk certificate", 0, NULL, HG_EINVAL, "not a PEM certificate" },
		{ "key of another certificate", 1, NULL, HG_EINVAL, "not the key of" },
		{ "missing key", 1, "/nonexistent/k.pem", HG_ENOENT, "key /nonexistent" },
		{ "junk CA", 2, NULL, HG_EINVAL, "CA file" },
		{ "empty identity", 3, "", HG_EINVAL, "empty EXTERNAL identity" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hg_amqp_config_t b = cfg;
		const char *v = bad[i].val;
		switch (bad[i].field) {
		case 0: b.tls_cert = v ? v : junk; break;
		case 1: b.tls_key = v ? v : other_key; break;
		case 2: b.tls_ca = v ? v : junk; break;
		default: b.identity = v; break;
		}
		c = NULL;
		err[0] = '\0';
		is_int(hg_amqp_new(&b, &c, err, sizeof(err)), bad[i].ret, "%s refused",
		       bad[i].what);
		ok(c == NULL && strstr(err, bad[i].err) != NULL, "%s: error says '%s' (%s)",
		   bad[i].what, bad[i].err, err);
	}
	hg_amqp_config_t none = cfg;
	none.tls_key = NULL;
	is_int(hg_amqp_new(&none, &c, err, sizeof(err)), HG_EINVAL, "no key given refused");
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	const char *files[] = { cert, cert0, cert2, key, other_key, junk };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		unlink(files[i]);
	}
}

/* A connection to a port where nothing listens fails with the URI and
 * errno's reason; the rounds then back off. */
static void test_refused_connect(const char *dir)
{
	char cert[512], key[512], err[HG_AMQP_ERR_MAX];
	snprintf(cert, sizeof(cert), "%s/c.pem", dir);
	snprintf(key, sizeof(key), "%s/c.key", dir);
	EVP_PKEY *k = make_key();
	write_cert(cert, k, "eu-fra", NULL);
	write_key(key, k);
	hg_amqp_uris_t uris;
	/* Port 1 on loopback: nothing listens there in a test environment. */
	hg_amqp_uris_parse("amqps://127.0.0.1:1,amqps://127.0.0.1:2", &uris, NULL, 0);
	hg_amqp_config_t cfg = { .uris = &uris,
		                 .tls_cert = cert,
		                 .tls_key = key,
		                 .tls_ca = cert,
		                 .identity = "eu-fra",
		                 .connect_timeout_ms = 1000 };
	hg_amqp_t *c = NULL;
	hg_amqp_new(&cfg, &c, err, sizeof(err));
	is_int(hg_amqp_connect(c), HG_EIO, "nothing listening: HG_EIO");
	const char *e = hg_amqp_error(c);
	ok(strstr(e, "amqps://127.0.0.1:1: ") == e && strstr(e, "Connection refused") != NULL &&
	           strstr(e, "; amqps://127.0.0.1:2: ") != NULL,
	   "both URIs and the reason named (%s)", e);
	uint32_t d1 = hg_amqp_retry_delay_ms(c);
	ok(d1 >= 250 && d1 <= 500, "first backoff in [250, 500] ms (%u)", d1);
	is_int(hg_amqp_connect(c), HG_EIO, "second round fails too");
	uint32_t d2 = hg_amqp_retry_delay_ms(c);
	ok(d2 >= 500 && d2 <= 1000, "second backoff in [500, 1000] ms (%u)", d2);
	hg_amqp_free(c);
	EVP_PKEY_free(k);
	unlink(cert);
	unlink(key);
}

int main(void)
{
	char dir[] = "/tmp/test_amqp.XXXXXX";
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_uri_cases();
	test_uri_limits();
	test_backoff();
	test_certs(dir);
	test_refused_connect(dir);
	rmdir(dir);
	return done_testing();
}
