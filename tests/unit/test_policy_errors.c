/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Policy compiler errors: one case per error class, each asserting the line,
 * the column and the message of the first error (errors are sorted by
 * position). Most cases are one edit of the reference policy, whose line
 * numbers are those of tests/unit/policies/reference.yaml. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "errors.h"
#include "policy.h"
#include "tap.h"

static char *ref; /* the reference policy's text */
static char ref_path[4096];

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return NULL;
	}
	char *buf = calloc(1, 1 << 16);
	size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
	fclose(f);
	if (buf != NULL && n == 0) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

/* Replace every occurrence of \a from in \a text; NULL if it does not occur. */
static char *edit(const char *text, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	for (const char *p = strstr(text, from); p; p = strstr(p + fl, from)) {
		n++;
	}
	if (n == 0) {
		return NULL;
	}
	char *out = malloc(strlen(text) + n * tl + 1), *w = out;
	const char *r = text;
	for (const char *p = strstr(r, from); p; p = strstr(r, from)) {
		memcpy(w, r, (size_t)(p - r));
		w += p - r;
		memcpy(w, to, tl);
		w += tl;
		r = p + fl;
	}
	strcpy(w, r);
	return out;
}

/* True when no message holds a control character: every one is a line. */
static bool messages_clean(const policy_errors_t *errs)
{
	for (size_t i = 0; i < errs->n_errors; i++) {
		for (const unsigned char *s = (const unsigned char *)errs->errors[i].msg; *s; s++) {
			if (*s < 0x20 || *s == 0x7f) {
				return false;
			}
		}
	}
	return true;
}

/* Compile \a len bytes of \a yaml and check the first error (and that no
 * message holds a raw control character); returns the error count. */
static size_t expect_error_len(const char *label, const char *yaml, size_t len, unsigned line,
                               unsigned col, const char *msg)
{
	policy_t *p = NULL;
	policy_errors_t errs;
	int ret = policy_parse_buffer("case.yaml", yaml, len, &p, &errs);
	size_t n = errs.n_errors;
	bool pass = ret == HG_EPOLICY && p == NULL && n > 0 && errs.errors[0].pos.line == line &&
	            errs.errors[0].pos.col == col && strstr(errs.errors[0].msg, msg) != NULL &&
	            messages_clean(&errs);
	ok(pass, "%s -> %u:%u %s", label, line, col, msg);
	if (!pass) {
		diag("ret %d, %zu errors:", ret, n);
		for (size_t i = 0; i < n; i++) {
			diag("  %u:%u: %s", errs.errors[i].pos.line, errs.errors[i].pos.col,
			     errs.errors[i].msg);
		}
	}
	policy_errors_free(&errs);
	policy_free(p);
	return n;
}

static size_t expect_error(const char *label, const char *yaml, unsigned line, unsigned col,
                           const char *msg)
{
	return expect_error_len(label, yaml, strlen(yaml), line, col, msg);
}

/* Edits of the reference policy: from, to, expected line, column, message. */
static const struct {
	const char *from, *to;
	unsigned line, col;
	const char *msg;
} edits[] = {
	{ "        weight:", "        wieght:", 41, 9,
	  "unknown key 'wieght' in endpoint (did you mean 'weight'?)" },
	{ "version: 1\n", "version: 1\nfoo: bar\n", 6, 1, "unknown key 'foo' in the policy" },
	{ "{tolerance: 20ms}", "{tolerence: 20ms}", 84, 26,
	  "unknown key 'tolerence' in lowest-latency (did you mean 'tolerance'?)" },
	{ "    priority: 2\n", "    priority: 2\n    priority: 3\n", 59, 5,
	  "duplicate key 'priority' in pool (first at line 58)" },
	{ "    ttl: 60", "    ttl: [60]", 98, 10, "expected a scalar for 'ttl', got a list" },
	{ "    pools: [eu]\n    chain:", "    pools: {eu: 1}\n    chain:", 99, 12,
	  "expected a list for 'pools' of name, got a map" },
	{ "location: {lat: 52.37, lon: 4.90}", "location: [52.37, 4.90]", 44, 19,
	  "expected a map for endpoint location, got a list" },
	{ "weight: 50", "weight: heavy", 45, 17, "expected an integer for 'weight', got 'heavy'" },
	{ "weight: 50", "weight: 1000001", 45, 17, "'weight' must be between 0 and 1000000" },
	{ "{sticky: true}", "{sticky: maybe}", 102, 28,
	  "expected a boolean (true/false) for 'sticky' of weighted, got 'maybe'" },
	{ "  - id: ap-sin", "  - id: eu-fra", 28, 9,
	  "duplicate prober id 'eu-fra' (first at line 26)" },
	{ "  - id: ap\n", "  - id: eu\n", 47, 9, "duplicate pool id 'eu' (first at line 35)" },
	{ "      - id: waf-sin-aws", "      - id: waf-fra-aws", 50, 13,
	  "duplicate endpoint id 'waf-fra-aws' (first at line 38)" },
	{ "  - name: dr.gslb", "  - name: Nearest.gslb", 93, 11,
	  "duplicate name 'nearest.gslb.example.net.' (first at line 89)" },
	{ "    pools: [eu, us]", "    pools: [eu, uss]", 94, 17, "unknown pool 'uss'" },
	{ "[waf-jkt-azure]", "[waf-jkt-azur]", 80, 25,
	  "unknown endpoint 'waf-jkt-azur' in geofence rule" },
	{ "pools: [eu, ap, us, cdn-backup]", "pools: [eu, us, cdn-backup]", 80, 25,
	  "endpoint 'waf-jkt-azure' is not in the pools of name 'global.gslb.example.net.'" },
	{ "[203.0.113.20]", "[203.0.113.300]", 54, 19, "bad address '203.0.113.300'" },
	{ "stale-after: 15s", "stale-after: 15x", 11, 16, "bad duration '15x'" },
	{ "interval: 5s", "interval: soon", 17, 15, "bad duration 'soon' for 'interval' in check" },
	{ "max-loss: 2%", "max-loss: 2x", 83, 19, "bad percentage '2x' for max-loss" },
	{ "name: dr.gslb.example.net.", "name: dr.gslb.example.net", 93, 11,
	  "name 'dr.gslb.example.net' is not absolute" },
	{ "cname: app.cdn-b.example.org.", "cname: app.cdn-b.example.org", 68, 16,
	  "cname 'app.cdn-b.example.org' is not absolute" },
	{ "[up, nearest, first: 1]", "[up, nearst, first: 1]", 91, 17,
	  "unknown chain filter 'nearst' (did you mean 'nearest'?)" },
	{ "first: 2 ", "first: 0 ", 86, 16,
	  "the count of 'first' must be between 1 and 64 (got 0)" },
	{ "[up, priority, first: 1]", "[up, priority, first]", 95, 27,
	  "filter 'first' needs an argument" },
	{ "      - up\n      - weighted", "      - up: 1\n      - weighted", 101, 13,
	  "filter 'up' takes no argument" },
	{ "        cname: app.cdn-b.example.org.\n", "", 67, 9,
	  "endpoint 'cdn-b' needs 'address' or 'cname'" },
	{ "        cname: app.cdn-b.example.org.",
	  "        address: 192.0.2.99\n"
	  "        cname: app.cdn-b.example.org.",
	  69, 16, "endpoint 'cdn-b' has both 'address' and 'cname'" },
	{ "    endpoints:\n      - id: waf-iad-aws\n        address: [192.0.2.10, "
	  "\"2001:db8:30::10\"]\n"
	  "        location: {lat: 38.95, lon: -77.45}\n        check: {type: icmp}\n",
	  "    endpoints: []\n", 59, 16, "pool 'us' has no endpoints" },
	{ "quorum: 0.5", "quorum: 1.5", 10, 11, "'quorum' in defaults must be in (0, 1]" },
	{ "  ttl: 30 ", "  ttl: 90000 ", 8, 8,
	  "'ttl' in defaults must be between 0 and 86400 (got 90000)" },
	{ "  - id: cdn-backup", "  - id: cdn backup", 64, 9, "invalid pool id 'cdn backup'" },
	{ "version: 1", "version: 2", 5, 10, "unsupported policy version 2" },
	{ "    location: {lat: 1.35, lon: 103.82}\n", "", 28, 5,
	  "missing required key 'location' in prober" },
	{ "{lat: 50.11, lon: 8.68}", "{lat: 50.11}", 27, 15,
	  "missing required key 'lon' in prober location" },
	{ "fallback: all ", "fallback: pool:nope ", 87, 15, "unknown pool 'nope' in fallback" },
	{ "fallback: all ", "fallback: some ", 87, 15, "bad fallback 'some'" },
	{ "country: [ID]", "country: [IDN]", 79, 31, "bad country 'IDN'" },
	{ "continent: [EU]", "continent: [EX]", 81, 33, "bad continent 'EX'" },
	{ "{type: icmp}", "{type: ping}", 63, 23, "unknown check type 'ping'" },
	{ "expect: [200, 204]", "expect: [200, 99]", 46, 93,
	  "HTTP status in 'expect' must be between 100 and 599 (got 99)" },
	{ "    rise: 2 ", "    rise: 0 ", 19, 11, "'rise' in check must be between 1 and 65535" },
	{ "    rise: 2 ", "    down-loss: 120%", 19, 16,
	  "bad percentage '120%' for 'down-loss' in check (use e.g. 50% or 0.5; 0 turns it off)" },
	{ "            pools: [eu]\n", "", 81, 13, "geofence rule needs 'endpoints' or 'pools'" },
	{ "    chain: [up, priority, first: 1]", "    chain: [up, priority, first: 1", 97, 9,
	  "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence "
	  "started at line 95, column 12)" },
};

static void test_reference_edits(void)
{
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *yaml = edit(ref, edits[i].from, edits[i].to);
		ok(yaml != NULL, "edit %zu: text found in the reference", i);
		if (yaml != NULL) {
			char label[64];
			snprintf(label, sizeof(label), "edit %zu", i);
			expect_error(label, yaml, edits[i].line, edits[i].col, edits[i].msg);
		}
		free(yaml);
	}
}

#define HEAD                                                        \
	"version: 1\npools:\n"                                      \
	"  - id: p\n    endpoints: [{id: e, address: 192.0.2.1}]\n" \
	"  - id: q\n    endpoints: [{id: f, address: 192.0.2.2}]\n" \
	"names:\n  - name: a.example.\n    pools: [p]\n"
/* HEAD is 9 lines; the case's own lines start at line 10. */

static const struct {
	const char *label, *yaml;
	unsigned line, col;
	const char *msg;
} snippets[] = {
	{ "fallback pool not of the name", HEAD "    chain: [up]\n    fallback: pool:q\n", 11, 15,
	  "fallback pool 'q' is not one of the name's pools" },
	{ "quorum 0", HEAD "    chain: [up]\n    quorum: 0\n", 11, 13,
	  "'quorum' must be in (0, 1]" },
	{ "pool listed twice",
	  "version: 1\npools: [{id: p, endpoints: [{id: e, address: 192.0.2.1}]}]\n"
	  "names: [{name: a.example., pools: [p, p], chain: [up]}]\n",
	  3, 39, "pool 'p' listed twice" },
	{ "prefix host bits",
	  HEAD "    chain: [{geofence: [{match: {prefix: 203.0.113.1/24}, pools: [p]}]}]\n", 10, 42,
	  "bad prefix '203.0.113.1/24'" },
	{ "prefix too long",
	  HEAD "    chain: [{geofence: [{match: {prefix: 2001:db8::/129}, pools: [p]}]}]\n", 10, 42,
	  "bad prefix '2001:db8::/129'" },
	{ "subdivision",
	  HEAD "    chain: [{geofence: [{match: {subdivision: US-CALI}, pools: [p]}]}]\n", 10, 47,
	  "bad subdivision 'US-CALI'" },
	{ "asn 0", HEAD "    chain: [{geofence: [{match: {asn: AS0}, pools: [p]}]}]\n", 10, 39,
	  "bad asn 'AS0'" },
	{ "unknown match kind", HEAD "    chain: [{geofence: [{match: {city: x}, pools: [p]}]}]\n",
	  10, 34, "unknown key 'city' in geofence match" },
	{ "empty match", HEAD "    chain: [{geofence: [{match: {}, pools: [p]}]}]\n", 10, 33,
	  "empty 'match'" },
	{ "geofence pool not of the name",
	  HEAD "    chain: [{geofence: [{match: {asn: 1}, pools: [q]}]}]\n", 10, 51,
	  "pool 'q' is not in the pools of name 'a.example.'" },
	{ "strict rule fallback all",
	  HEAD
	  "    chain: [{geofence: [{match: {asn: 1}, pools: [p], strict: true, fallback: all}]}]\n",
	  10, 79,
	  "bad fallback 'all' of a strict geofence rule (expected pool:ID or none; 'all' would "
	  "answer endpoints outside the fence)" },
	{ "rule fallback without strict",
	  HEAD "    chain: [{geofence: [{match: {asn: 1}, pools: [p], fallback: pool:p}]}]\n", 10,
	  65,
	  "'fallback' of a geofence rule needs 'strict: true' (a loose rule falls through to the "
	  "name's chain and fallback)" },
	{ "rule fallback pool not of the name",
	  HEAD "    chain: [{geofence: [{match: {asn: 1}, pools: [p], strict: true, fallback: "
	       "pool:q}]}]\n",
	  10, 79, "fallback pool 'q' of a geofence rule is not in the pools of name 'a.example.'" },
	{ "rule fallback unknown pool",
	  HEAD "    chain: [{geofence: [{match: {asn: 1}, pools: [p], strict: true, fallback: "
	       "pool:zz}]}]\n",
	  10, 79, "unknown pool 'zz' in the fallback of a geofence rule" },
	{ "geofence needs rules", HEAD "    chain: [{geofence: []}]\n", 10, 24,
	  "geofence needs at least one rule" },
	{ "geofence not a list", HEAD "    chain: [{geofence: x}]\n", 10, 24,
	  "expected a list for 'geofence', got a scalar" },
	{ "filter map with 2 keys", HEAD "    chain: [{first: 1, up: 2}]\n", 10, 13,
	  "a chain filter is a name or a map with one key (got 2 keys)" },
	{ "max-loss without argument", HEAD "    chain: [max-loss]\n", 10, 13,
	  "filter 'max-loss' needs an argument" },
	{ "max-loss over 100%", HEAD "    chain: [max-loss: 120%]\n", 10, 23,
	  "bad percentage '120%' for max-loss" },
	{ "missing chain", HEAD, 8, 5, "missing required key 'chain' in name" },
	{ "probe-address",
	  "version: 1\npools: [{id: p, endpoints: [{id: e, cname: x.example., "
	  "check: {probe-address: 300.1.1.1}}]}]\nnames: []\n",
	  2, 79, "bad address '300.1.1.1' for 'probe-address'" },
	{ "path without slash",
	  "version: 1\npools: [{id: p, check: {path: health}, "
	  "endpoints: [{id: e, address: 192.0.2.1}]}]\nnames: []\n",
	  2, 31, "bad 'path' in check 'health': it must start with '/'" },
	{ "third copy of a pool id",
	  "version: 1\npools:\n  - {id: p, endpoints: [{id: e, address: 192.0.2.1}]}\n"
	  "  - {id: q, endpoints: [{id: f, address: 192.0.2.1}]}\n"
	  "  - {id: p, endpoints: [{id: g, address: 192.0.2.1}]}\n"
	  "  - {id: p, endpoints: [{id: h, address: 192.0.2.1}]}\nnames: []\n",
	  5, 10, "duplicate pool id 'p' (first at line 3)" },
	{ "duplicate address",
	  "version: 1\npools: [{id: p, endpoints: [{id: e, "
	  "address: [192.0.2.1, 192.0.2.1]}]}]\nnames: []\n",
	  2, 58, "duplicate address '192.0.2.1' in endpoint 'e'" },
	{ "id too long",
	  "version: 1\npools: [{id: "
	  "p234567890123456789012345678901234567890123456789012345678901234, "
	  "endpoints: [{id: e, address: 192.0.2.1}]}]\nnames: []\n",
	  2, 14, "invalid pool id" },
	{ "NUL in a scalar",
	  "version: 1\npools: [{id: p, endpoints: [{id: e, "
	  "address: \"192.0.2.1\\0x\"}]}]\nnames: []\n",
	  2, 46, "an address contains a NUL byte" },
	{ "top level a list", "- a\n- b\n", 1, 1, "expected a map for the policy, got a list" },
	{ "empty file", "", 1, 1, "the policy is empty" },
	{ "missing version", "pools: []\nnames: []\n", 1, 1,
	  "missing required key 'version' in the policy" },
	{ "version not a number", "version: one\npools: []\nnames: []\n", 1, 10,
	  "expected an integer for 'version', got 'one'" },
	{ "second document", "version: 1\npools: []\nnames: []\n---\nfoo: 1\n", 5, 1,
	  "one YAML document" },
	{ "tab indentation", "version: 1\npools:\n\t- id: p\n", 3, 1, "YAML syntax error" },
	{ "check not a map", "version: 1\ndefaults: {check: http}\npools: []\nnames: []\n", 2, 19,
	  "expected a map for check, got a scalar" },
};

static void test_snippets(void)
{
	for (size_t i = 0; i < sizeof(snippets) / sizeof(snippets[0]); i++) {
		expect_error(snippets[i].label, snippets[i].yaml, snippets[i].line, snippets[i].col,
		             snippets[i].msg);
	}
}

/* One check field of an endpoint, on a line of its own: the value starts at
 * line 8, column 13 + strlen(field). */
#define CHECK_AT(field, value)                                                                   \
	"version: 1\npools:\n  - id: p\n    endpoints:\n"                                        \
	"      - id: e\n        address: 192.0.2.1\n        check:\n          " field ": " value \
	"\nnames: []\n"

static const struct {
	const char *field, *yaml, *msg;
} check_fields[] = {
	{ "host", CHECK_AT("host", "user@name"),
	  "bad 'host' in check 'user@name': '@' is not allowed (a host name only" },
	{ "host", CHECK_AT("host", "\"app.example.com\\r\\nX-Evil: 1\""),
	  "bad 'host' in check 'app.example.com\\x0d\\x0aX-Evil: 1': '\\x0d' is not allowed" },
	{ "host", CHECK_AT("host", "'app example.com'"), "' ' is not allowed" },
	{ "host", CHECK_AT("host", "app.example.com/x"), "'/' is not allowed (a host name only" },
	{ "host", CHECK_AT("host", "app.example.com:8443"),
	  "':' is not allowed (the port goes in 'port', an IPv6 address in 'probe-address')" },
	{ "host", CHECK_AT("host", "\"[2001:db8::1]\""), "'[' is not allowed" },
	{ "host", CHECK_AT("host", "app.example.com."), "it ends with a dot" },
	{ "host", CHECK_AT("host", "app..example.com"), "it has an empty label" },
	{ "host", CHECK_AT("host", "-app.example.com"), "a label starts or ends with '-'" },
	{ "host", CHECK_AT("host", "app-.example.com"), "a label starts or ends with '-'" },
	{ "host",
	  CHECK_AT("host",
	           "a234567890123456789012345678901234567890123456789012345678901234.example"),
	  "a label longer than 63 characters" },
	{ "host",
	  CHECK_AT("host", "b\xc3\xbc"
	                   "cher.example"),
	  "'\xc3\xbc' is not allowed (write an internationalized name in its xn-- form)" },
	{ "host", CHECK_AT("host", "app_1.example.com"), "'_' is not allowed" },
	{ "path", CHECK_AT("path", "'/health check'"),
	  "bad 'path' in check '/health check': ' ' at byte 8 is not allowed (RFC 3986: "
	  "percent-encode it, e.g. a space as %20)" },
	{ "path", CHECK_AT("path", "\"/health\\nHost: evil\""),
	  "bad 'path' in check '/health\\x0aHost: evil': '\\x0a' at byte 8 is not allowed" },
	{ "path", CHECK_AT("path", "\"/health\\r\""), "'\\x0d' at byte 8 is not allowed" },
	{ "path", CHECK_AT("path", "\"/health\\tx\""), "'\\x09' at byte 8 is not allowed" },
	{ "path", CHECK_AT("path", "'/health#top'"),
	  "'#' starts a fragment, which is never sent to the server" },
	{ "path", CHECK_AT("path", "/a%zz"), "'%' at byte 3 is not followed by two hex digits" },
	{ "path", CHECK_AT("path", "/a%2"), "'%' at byte 3 is not followed by two hex digits" },
	{ "path", CHECK_AT("path", "/caf\xc3\xa9"), "'\xc3\xa9' at byte 5 is not allowed" },
	{ "path", CHECK_AT("path", "'/a\"b'"), "'\"' at byte 3 is not allowed" },
	{ "ca", CHECK_AT("ca", "certs/ca.pem"),
	  "bad 'ca' in check 'certs/ca.pem': it must be an absolute path" },
	{ "ca", CHECK_AT("ca", "\"/etc/ca\\n.pem\""), "it holds a control character at byte 8" },
	{ "probe-address", CHECK_AT("probe-address", "0.0.0.0"),
	  "'probe-address' '0.0.0.0' in check is not a unicast address: unspecified (0.0.0.0/8)" },
	{ "probe-address", CHECK_AT("probe-address", "'::'"), "unspecified (::)" },
	{ "probe-address", CHECK_AT("probe-address", "224.0.0.1"), "multicast (224.0.0.0/4)" },
	{ "probe-address", CHECK_AT("probe-address", "'ff02::1'"), "multicast (ff00::/8)" },
	{ "probe-address", CHECK_AT("probe-address", "255.255.255.255"),
	  "reserved (240.0.0.0/4, with the broadcast address)" },
	{ "probe-address", CHECK_AT("probe-address", "169.254.169.254"),
	  "link-local (169.254.0.0/16)" },
	{ "probe-address", CHECK_AT("probe-address", "'fe80::1'"), "link-local (fe80::/10)" },
};

/* An endpoint address at line 6, column 18. */
#define ADDR_AT(value)                                    \
	"version: 1\npools:\n  - id: p\n    endpoints:\n" \
	"      - id: e\n        address: " value "\nnames: []\n"

static const struct {
	const char *value, *msg;
} addresses[] = {
	{ "0.0.0.0",
	  "address '0.0.0.0' of endpoint 'e' cannot be in an answer: unspecified (0.0.0.0/8)" },
	{ "0.1.2.3", "unspecified (0.0.0.0/8)" },
	{ "'::'", "address '::' of endpoint 'e' cannot be in an answer: unspecified (::)" },
	{ "224.0.0.1", "multicast (224.0.0.0/4)" },
	{ "239.255.255.250", "multicast (224.0.0.0/4)" },
	{ "'ff05::1:3'", "multicast (ff00::/8)" },
	{ "255.255.255.255", "reserved (240.0.0.0/4, with the broadcast address)" },
	{ "240.0.0.1", "reserved (240.0.0.0/4" },
	{ "169.254.10.1", "link-local (169.254.0.0/16)" },
	{ "'fe80::1'", "link-local (fe80::/10)" },
	{ "'febf::1'", "link-local (fe80::/10)" },
	{ "'::ffff:192.0.2.1'", "IPv4-mapped (::ffff:0:0/96: write the IPv4 address)" },
	{ "'::192.0.2.1'", "IPv4-compatible (::/96, deprecated" },
};

/* What the rules above let through, each must compile. */
static const char *const accepted[] = {
	CHECK_AT("host", "app.example.com"),
	CHECK_AT("host", "198.51.100.10"),
	CHECK_AT("host", "''"),
	CHECK_AT("host", "xn--bcher-kva.example"),
	CHECK_AT("host", "a-b.c1"),
	CHECK_AT("path", "/health?full=1&x=%20y"),
	CHECK_AT("path", "/~user/a;b=c,d:e@f!$'()*+"),
	CHECK_AT("path", "/"),
	CHECK_AT("ca", "/etc/ssl/private ca.pem"),
	CHECK_AT("ca", "''"),
	CHECK_AT("body", "\"OK\\n\""),
	CHECK_AT("probe-address", "127.0.0.1"),
	CHECK_AT("probe-address", "'::1'"),
	CHECK_AT("probe-address", "10.1.2.3"),
	ADDR_AT("127.0.0.1"),
	ADDR_AT("'::1'"),
	ADDR_AT("10.0.0.1"),
	ADDR_AT("'fc00::1'"),
	ADDR_AT("100.64.0.1"),
	ADDR_AT("203.0.113.255"),
	ADDR_AT("223.255.255.254"),
	ADDR_AT("'2001:db8::1'"),
	ADDR_AT("'fec0::1'"),
};

static void test_values(void)
{
	char label[96];
	for (size_t i = 0; i < sizeof(check_fields) / sizeof(check_fields[0]); i++) {
		snprintf(label, sizeof(label), "check %s %zu", check_fields[i].field, i);
		expect_error(label, check_fields[i].yaml, 8,
		             (unsigned)(13 + strlen(check_fields[i].field)), check_fields[i].msg);
	}
	for (size_t i = 0; i < sizeof(addresses) / sizeof(addresses[0]); i++) {
		char yaml[512];
		snprintf(yaml, sizeof(yaml), ADDR_AT("%s"), addresses[i].value);
		snprintf(label, sizeof(label), "address %s", addresses[i].value);
		expect_error(label, yaml, 6, 18, addresses[i].msg);
	}
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		policy_t *p = NULL;
		policy_errors_t errs;
		int ret =
		        policy_parse_buffer("ok.yaml", accepted[i], strlen(accepted[i]), &p, &errs);
		ok(ret == HG_EOK, "accepted %zu", i);
		for (size_t e = 0; e < errs.n_errors; e++) {
			diag("  %u:%u: %s", errs.errors[e].pos.line, errs.errors[e].pos.col,
			     errs.errors[e].msg);
		}
		policy_errors_free(&errs);
		policy_free(p);
	}
}

/* Messages echo file text escaped; invalid UTF-8 is reported where it is
 * (libyaml gives only a byte offset). */
static const struct {
	const char *label, *yaml;
	size_t len; /* 0: strlen */
	unsigned line, col;
	const char *msg;
} texts[] = {
	{ "escape in an id",
	  "version: 1\npools: [{id: \"a\\eb\\x85c\\u202ed\\u2028\", "
	  "endpoints: []}]\nnames: []\n",
	  0, 2, 14, "invalid pool id 'a\\x1bb\\u0085c\\u202ed\\u2028'" },
	{ "escape in an unknown key", "version: 1\n\"k\\x7f\\x01\": 1\npools: []\nnames: []\n", 0,
	  2, 1, "unknown key 'k\\x7f\\x01' in the policy" },
	{ "invalid UTF-8 on line 5",
	  "version: 1\npools: []\nnames: []\n# note\nx: 'ab\xff"
	  "c'\n",
	  0, 5, 7, "YAML syntax error: invalid leading UTF-8 octet (0xff)" },
	{ "invalid UTF-8 after multibyte characters",
	  "version: 1\n# \xc3\xa9\xc3\xa9\nx: '\xc3\xa9\xc3\xa9\xe2\x82\xac\x80'\n", 0, 3, 8,
	  "invalid leading UTF-8 octet (0x80)" },
	{ "truncated UTF-8 sequence", "version: 1\nx: '\xe2\x82'\n", 0, 2, 6,
	  "invalid trailing UTF-8 octet (0x27)" },
	{ "invalid UTF-8 with CR LF lines", "version: 1\r\npools: []\r\n\r\nx: \xfe\r\n", 0, 4, 4,
	  "invalid leading UTF-8 octet (0xfe)" },
	{ "invalid UTF-8 with CR lines", "version: 1\rpools: []\rx: \xfe\r", 0, 3, 4,
	  "invalid leading UTF-8 octet (0xfe)" },
	{ "invalid UTF-8 after a NEL line break",
	  "version: 1\n# a\xc2\x85"
	  "b\nx: \xff\n",
	  0, 4, 4, "invalid leading UTF-8 octet (0xff)" },
	{ "invalid UTF-8 after a BOM", "\xef\xbb\xbfversion: 1\nx: \xc0\x80\n", 0, 2, 4,
	  "invalid" },
	{ "raw control character",
	  "version: 1\nx: a\x01"
	  "b\n",
	  0, 2, 5, "control characters are not allowed (0x01)" },
	{ "NUL byte in the file", "version: 1\nx: a\0b\n", 17, 2, 5,
	  "control characters are not allowed (0x00)" },
};

static void test_texts(void)
{
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t len = texts[i].len ? texts[i].len : strlen(texts[i].yaml);
		expect_error_len(texts[i].label, texts[i].yaml, len, texts[i].line, texts[i].col,
		                 texts[i].msg);
	}
}

/* "[" (or "- ") \a depth times, then the closing brackets. */
static char *nested(const char *open, const char *close, unsigned depth, const char *inner)
{
	size_t lo = strlen(open), lc = strlen(close);
	char *y = malloc(depth * (lo + lc) + strlen(inner) + 2), *w = y;
	for (unsigned i = 0; i < depth; i++, w += lo) {
		memcpy(w, open, lo);
	}
	w += sprintf(w, "%s", inner);
	for (unsigned i = 0; i < depth; i++, w += lc) {
		memcpy(w, close, lc);
	}
	strcpy(w, "\n");
	return y;
}

/* The loader's limits: nesting, aliases, anchors, directives, size. */
static void test_loader_limits(void)
{
	char *y = nested("[", "]", 32, "");
	expect_error("32 levels nest", y, 1, 1, "expected a map for the policy, got a list");
	free(y);
	y = nested("[", "]", 33, "");
	expect_error("33 levels: too deep", y, 1, 33,
	             "nesting deeper than 32 levels (a policy needs 9 at most)");
	free(y);
	y = nested("[", "]", 200000, "");
	expect_error("200k levels: too deep, at once", y, 1, 33, "nesting deeper than 32 levels");
	free(y);
	y = nested("- ", "", 33, "x");
	expect_error("33 block levels", y, 1, 65, "nesting deeper than 32 levels");
	free(y);
	y = nested("{a: ", "}", 33, "x");
	expect_error("33 map levels", y, 1, 129, "nesting deeper than 32 levels");
	free(y);

	expect_error("unknown alias", "version: 1\npools: *nope\nnames: []\n", 2, 8,
	             "unknown alias '*nope'");
	expect_error("recursive alias", "version: 1\npools: &a [*a]\nnames: []\n", 2, 12,
	             "alias '*a' is inside the node it names");
	expect_error("duplicate anchor", "version: 1\nx: &a 1\ny: &a 2\npools: []\nnames: []\n", 3,
	             4, "duplicate anchor '&a' (first at line 2)");

	/* 10^8 nodes through 8 levels of 10 aliases, from a 400-byte file */
	size_t cap = 1 << 16, off;
	y = malloc(cap);
	off = (size_t)snprintf(y, cap,
	                       "version: 1\nx:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i <= 8; i++) {
		off += (size_t)snprintf(y + off, cap - off, "  a%d: &a%d [", i, i);
		for (int j = 0; j < 10; j++) {
			off += (size_t)snprintf(y + off, cap - off, "%s*a%d", j ? ", " : "", i - 1);
		}
		off += (size_t)snprintf(y + off, cap - off, "]\n");
	}
	expect_error("alias bomb", y, 9, 47,
	             "the document is too large through its aliases (more than 10000000 nodes");
	free(y);

	/* a shared check used many times is fine: aliases count, not cost */
	off = (size_t)snprintf(y = malloc(cap), cap,
	                       "version: 1\npools:\n  - id: p\n"
	                       "    check: &c {type: tcp, port: 443}\n    endpoints:\n");
	for (int i = 0; i < 64; i++) {
		off += (size_t)snprintf(y + off, cap - off,
		                        "      - {id: e%d, address: 192.0.2.1, "
		                        "check: *c}\n",
		                        i);
	}
	snprintf(y + off, cap - off, "names: []\n");
	policy_t *p = NULL;
	is_int(policy_parse_buffer("alias.yaml", y, strlen(y), &p, NULL), HG_EOK,
	       "64 aliases of a check");
	ok(p != NULL && p->n_endpoints == 64 && p->endpoints[63].check.port == 443,
	   "aliased check applies");
	policy_free(p);
	free(y);

	/* 10001 anchors */
	cap = 1 << 20;
	y = malloc(cap);
	off = (size_t)snprintf(y, cap, "version: 1\nx:\n");
	for (int i = 0; i <= 10000; i++) {
		off += (size_t)snprintf(y + off, cap - off, "  - &a%d v\n", i);
	}
	expect_error("10001 anchors", y, 10003, 5, "too many anchors (max 10000)");
	free(y);

	/* 33 directives */
	y = malloc(cap);
	off = 0;
	for (int i = 0; i < 33; i++) {
		off += (size_t)snprintf(y + off, cap - off, "%%TAG !t%d! tag:example.com,2000:\n",
		                        i);
	}
	snprintf(y + off, cap - off, "---\nversion: 1\npools: []\nnames: []\n");
	expect_error("33 directives", y, 33, 1,
	             "too many YAML directives (max 32; a policy needs none)");
	free(y);

	/* larger than 512 MiB: refused before a byte is read (the pages are
	 * never touched) */
	size_t big = (512u << 20) + 1;
	void *m = mmap(NULL, big, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ok(m != MAP_FAILED, "map 512 MiB + 1");
	if (m != MAP_FAILED) {
		expect_error_len("512 MiB + 1", m, big, 1, 1,
		                 "the policy is too large (536870913 bytes, max 536870912)");
		munmap(m, big);
	}
}

/* Limits of schema.h, on generated policies. */
static void test_limits(void)
{
	size_t cap = 1 << 16, off = 0;
	char *y = malloc(cap);

	/* 65 endpoints in one name: lines 1-4 header, one line per endpoint */
	off = (size_t)snprintf(y, cap, "version: 1\npools:\n  - id: p\n    endpoints:\n");
	for (int i = 0; i <= HG_NAME_EP_MAX; i++) {
		off += (size_t)snprintf(y + off, cap - off,
		                        "      - {id: e%d, address: 192.0.2.%d}\n", i, i + 1);
	}
	snprintf(y + off, cap - off,
	         "names:\n  - name: big.example.\n    pools: [p]\n    chain: [up]\n");
	expect_error("65 endpoints in a name", y, 4 + HG_NAME_EP_MAX + 1 + 3, 12,
	             "name 'big.example.' has 65 endpoints (max 64)");

	/* 33 probers */
	off = (size_t)snprintf(y, cap, "version: 1\nprobers:\n");
	for (int i = 0; i <= HG_PROBER_MAX; i++) {
		off += (size_t)snprintf(y + off, cap - off,
		                        "  - {id: p%d, location: {lat: 0, lon: 0}}\n", i);
	}
	snprintf(y + off, cap - off, "pools: []\nnames: []\n");
	expect_error("33 probers", y, 3 + HG_PROBER_MAX, 5, "too many probers: 33 (max 32)");

	/* 17 filters; 33 geofence rules; 9 IPv4 addresses */
	off = (size_t)snprintf(y, cap, "%s    chain: [", HEAD);
	for (int i = 0; i <= HG_CHAIN_MAX; i++) {
		off += (size_t)snprintf(y + off, cap - off, "%sup", i ? ", " : "");
	}
	snprintf(y + off, cap - off, "]\n");
	expect_error("17 filters", y, 10, 13 + 4 * HG_CHAIN_MAX,
	             "chain of 'a.example.' has too many filters (max 16)");

	off = (size_t)snprintf(y, cap, "%s    chain:\n      - geofence:\n", HEAD);
	for (int i = 0; i <= HG_RULES_MAX; i++) {
		off += (size_t)snprintf(y + off, cap - off,
		                        "        - {match: {asn: %d}, pools: [p]}\n", i + 1);
	}
	expect_error("33 rules", y, 12 + HG_RULES_MAX, 11,
	             "name 'a.example.' has too many geofence rules (max 32)");

	snprintf(y, cap,
	         "version: 1\npools: [{id: p, endpoints: [{id: e, address: [1.0.0.1, 1.0.0.2, "
	         "1.0.0.3, 1.0.0.4, 1.0.0.5, 1.0.0.6, 1.0.0.7, 1.0.0.8, 1.0.0.9]}]}]\nnames: []\n");
	expect_error("9 IPv4 addresses", y, 2, 119,
	             "too many IPv4 addresses in endpoint 'e' (max 8)");

	/* a file with 150 mistakes: 99 reported, then one line saying we stopped */
	off = (size_t)snprintf(y, cap, "version: 1\npools:\n");
	for (int i = 0; i < 150; i++) {
		off += (size_t)snprintf(y + off, cap - off,
		                        "  - {id: 'bad id', endpoints: [{id: e%d, "
		                        "address: 192.0.2.1}]}\n",
		                        i);
	}
	snprintf(y + off, cap - off, "names: []\n");
	policy_errors_t errs;
	policy_t *p = NULL;
	is_int(policy_parse_buffer("many.yaml", y, strlen(y), &p, &errs), HG_EPOLICY, "150 errors");
	is_int(errs.n_errors, 100, "errors capped at 100");
	ok(errs.n_errors == 100 && errs.errors[98].pos.line == 101 &&
	           strstr(errs.errors[99].msg, "too many errors, stopped after 99") != NULL &&
	           errs.errors[99].pos.line >= errs.errors[98].pos.line,
	   "cap reported last");
	policy_errors_free(&errs);
	free(y);
}

/* All errors are reported, sorted by position, and printed FILE:LINE:COL. */
static void test_all_errors(void)
{
	char *a = edit(ref, "weight: 50", "weight: -1");
	char *b = a ? edit(a, "  - id: ap-sin", "  - id: ap sin") : NULL;
	char *y = b ? edit(b, "first: 8]", "frist: 8]") : NULL;
	ok(y != NULL, "three edits applied");
	policy_t *p = NULL;
	policy_errors_t errs;
	int ret = policy_parse_buffer(ref_path, y ? y : "", y ? strlen(y) : 0, &p, &errs);
	is_int(ret, HG_EPOLICY, "invalid policy -> HG_EPOLICY");
	is_int(errs.n_errors, 3, "three errors collected");
	char out[2048] = "";
	FILE *f = fmemopen(out, sizeof(out), "w");
	policy_errors_print(&errs, "reference.yaml", f);
	fclose(f);
	is_str(out,
	       "reference.yaml:28:9: invalid prober id 'ap sin' (1-63 characters of A-Z a-z 0-9 . "
	       "_ -)\n"
	       "reference.yaml:45:17: 'weight' must be between 0 and 1000000 (got -1)\n"
	       "reference.yaml:107:30: unknown chain filter 'frist' (did you mean 'first'?)\n",
	       "errors printed in order");
	policy_errors_free(&errs);
	free(a);
	free(b);
	free(y);

	/* the acceptance case, printed */
	y = edit(ref, "        weight:", "        wieght:");
	ret = policy_parse_buffer("policy.yaml", y, strlen(y), &p, NULL);
	is_int(ret, HG_EPOLICY, "errors may be NULL");
	ret = policy_parse_buffer("policy.yaml", y, strlen(y), &p, &errs);
	f = fmemopen(out, sizeof(out), "w");
	policy_errors_print(&errs, "policy.yaml", f);
	fclose(f);
	ok(strncmp(out,
	           "policy.yaml:41:9: unknown key 'wieght' in endpoint (did you mean 'weight'?)\n"
	           "policy.yaml:45:9: ",
	           94) == 0,
	   "wieght printed at 41:9 and 45:9");
	policy_errors_free(&errs);
	free(y);
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	snprintf(ref_path, sizeof(ref_path), "%s/tests/unit/policies/reference.yaml",
	         top ? top : "..");
	ref = read_all(ref_path);
	ok(ref != NULL, "reference policy read from %s", ref_path);
	if (ref == NULL) {
		return done_testing();
	}
	test_reference_edits();
	test_snippets();
	test_values();
	test_texts();
	test_loader_limits();
	test_limits();
	test_all_errors();
	free(ref);
	return done_testing();
}
