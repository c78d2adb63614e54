# amqp: connections to the fleet's RabbitMQ brokers over librabbitmq 0.11
# (shared/amqp/hg_amqp.h): amqps:// URI lists, TLS with client
# certificates, SASL EXTERNAL, backoff, readable errors. Write side only:
# the prober (publisher) and haltgslb-syncd (consumer) link it, never the
# module. The header is not named amqp.h: that is librabbitmq's.
noinst_LTLIBRARIES += libhg_amqp.la
libhg_amqp_la_CFLAGS = $(HG_CFLAGS) $(librabbitmq_CFLAGS) -pthread
libhg_amqp_la_SOURCES = \
	shared/amqp/hg_amqp.h shared/amqp/amqp_int.h \
	shared/amqp/amqp_uri.c \
	shared/amqp/amqp_backoff.c \
	shared/amqp/amqp_tls.c \
	shared/amqp/amqp_frame.c \
	shared/amqp/amqp_conn.c
libhg_amqp_la_LIBADD = libhg_base.la $(librabbitmq_LIBS) $(openssl_LIBS) -lpthread

# What a broker client links: libhg_amqp and its external libraries.
HG_AMQP_LIBS = libhg_amqp.la
HG_AMQP_EXT_LIBS = $(librabbitmq_LIBS) $(openssl_LIBS) -lpthread

check_PROGRAMS += tests/unit/test_amqp
TESTS += tests/unit/test_amqp
tests_unit_test_amqp_SOURCES = tests/unit/test_amqp.c
tests_unit_test_amqp_CFLAGS = $(HG_CFLAGS) $(librabbitmq_CFLAGS)
tests_unit_test_amqp_LDADD = $(HG_AMQP_LIBS) libhg_base.la $(HG_AMQP_EXT_LIBS)
