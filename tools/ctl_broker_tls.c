/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* broker-config: the certificate files are checked here, where a mistake
 * costs a clear message, rather than by a broker that would refuse to start
 * or, worse, start and refuse every client. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ctl.h"
#include "ctl_broker.h"
#include "errors.h"

static FILE *open_pem(const char *what, const char *path, int *ret)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		ctl_error("%s %s: %s", what, path, strerror(errno));
		*ret = errno == ENOENT || errno == EACCES ? HG_ENOENT : HG_EIO;
	}
	return f;
}

/* The first certificate of a PEM file, or NULL after printing why. */
static X509 *read_cert(const char *what, const char *path, int *ret)
{
	FILE *f = open_pem(what, path, ret);
	if (f == NULL) {
		return NULL;
	}
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		ctl_error("%s %s: no PEM certificate in the file", what, path);
		*ret = HG_EINVAL;
	}
	ERR_clear_error();
	return x;
}

static void warn_validity(const char *path, const X509 *x)
{
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
		fprintf(stderr,
		        "haltgslb-ctl broker-config: warning: %s has expired: clients will "
		        "refuse the broker\n",
		        path);
	} else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		fprintf(stderr, "haltgslb-ctl broker-config: warning: %s is not valid yet\n", path);
	}
}

int broker_tls_check(const char *cert, const char *key, const char *ca)
{
	int ret = HG_EOK;
	EVP_PKEY *pkey = NULL;
	X509 *x = read_cert("--tls-cert", cert, &ret);
	X509 *cax = read_cert("--tls-ca", ca, &ret);
	FILE *f = open_pem("--tls-key", key, &ret);
	if (f != NULL) {
		pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (pkey == NULL) {
			/* An encrypted key fails here too: RabbitMQ would need its passphrase. */
			ctl_error("--tls-key %s: no unencrypted PEM private key in the file", key);
			ret = HG_EINVAL;
		}
		ERR_clear_error();
	}
	if (ret != HG_EOK) {
		goto cleanup;
	}
	if (X509_check_private_key(x, pkey) != 1) {
		ctl_error("--tls-key %s does not match the certificate %s", key, cert);
		ret = HG_EINVAL;
		goto cleanup;
	}
	warn_validity(cert, x);
	warn_validity(ca, cax);
	if (X509_check_issued(cax, x) != X509_V_OK) {
		/* Only a warning: the chain may go through an intermediate. */
		fprintf(stderr,
		        "haltgslb-ctl broker-config: warning: %s is not issued by the first "
		        "certificate of %s: clients that trust only that CA will refuse the "
		        "broker\n",
		        cert, ca);
	}
cleanup:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	X509_free(x);
	X509_free(cax);
	return ret;
}
