# ---- examples/sip-registrar: mcreg-registrar ---------------------------------------
# Included by the top Makefile. The SIP registrar example: libosip2 for SIP,
# the static libmcreg for the state. Built with `make examples`.
#   check-sip    examples/sip-registrar/tests/: the pytest suite (Debian
#                python3-pytest), SIPp scenarios (sip-tester) against the
#                registrar, each on its own loopback ports
#   bench-sip    examples/sip-registrar/bench/bench.py: the highest REGISTER
#                rate the registrar sustains with 10^4 UEs, and its CPU split
#                (build/bench-sip.json); it shares tests/regtest.py
# PYTHON: the python3 that Debian's python3-pytest installs for (a python3
# earlier on PATH may lack it). PYTEST_ARGS adds pytest options (say -k
# refresh, or -x).
#   install-registrar
#                mcreg-registrar into $(BINDIR), its man page into $(MANDIR)
REG_DIR     = examples/sip-registrar
REG_SRCS   := $(sort $(wildcard examples/sip-registrar/*.c))
REG_OBJS   := $(REG_SRCS:examples/sip-registrar/%.c=$(BUILDDIR)/examples/sip-registrar/%.o)
REGISTRAR   = $(BUILDDIR)/examples/mcreg-registrar
# A helper of the suite (test_hostile.py's hash flooding): branches that
# collide in uthash's default hash. Built without sanitizers, it only searches.
JEN_COLLIDE = $(BUILDDIR)/examples/jen-collide

# Evaluated only when the registrar is built, so the library builds without
# libosip2 installed.
OSIP_CFLAGS = $(shell $(PKG_CONFIG) --cflags libosip2 hiredis)
OSIP_LIBS   = $(shell $(PKG_CONFIG) --libs libosip2 hiredis)
REG_ALL_CFLAGS = $(STD_FLAGS) $(CFLAGS) $(SAN_FLAGS) $(TEST_WARN) -Wshadow -Wmissing-prototypes \
                 -D_GNU_SOURCE -Iinclude $(OSIP_CFLAGS) $(CPPFLAGS) $(DEP_FLAGS)

.PHONY: registrar install-registrar check-sip bench-sip

examples: $(REGISTRAR)
registrar: $(REGISTRAR)

$(REG_OBJS): $(BUILDDIR)/examples/sip-registrar/%.o: examples/sip-registrar/%.c \
             $(BUILDDIR)/stamp.REG_CC | $(BUILDDIR)/examples/sip-registrar
	$(CC) $(REG_ALL_CFLAGS) -c $< -o $@

$(REGISTRAR): $(REG_OBJS) $(STATIC) $(BUILDDIR)/stamp.REG_LD
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $(REG_OBJS) $(STATIC) $(LIB_PC_LIBS) $(OSIP_LIBS)

$(BUILDDIR)/examples/sip-registrar:
	mkdir -p $@

PYTHON      ?= /usr/bin/python3
PYTEST_ARGS ?=
PY_ENV       = PYTHONDONTWRITEBYTECODE=1

# Also run by the Makefile's check target (before the Check runner).
CHECK_SIP    = $(PY_ENV) $(PYTHON) -m pytest $(REG_DIR)/tests --builddir=$(call shquote,$(BUILDDIR)) \
               $(PYTEST_ARGS)

# Beside what `make install` installs; `make uninstall` removes both.
install-registrar: $(REGISTRAR)
	$(if $(filter 1,$(SANITIZE)),$(error install the normal build, not SANITIZE=1))
	install -d -m 755 '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1'
	install -m 755 $(REGISTRAR) '$(DESTDIR)$(BINDIR)/mcreg-registrar'
	install -m 644 man/mcreg-registrar.1 '$(DESTDIR)$(MANDIR)/man1/mcreg-registrar.1'

check-sip: $(REGISTRAR) $(MCREG_DUMP) $(JEN_COLLIDE)
	$(CHECK_SIP)

# The Makefile's check runs $(CHECK_SIP) too.
check: $(JEN_COLLIDE)

$(JEN_COLLIDE): examples/sip-registrar/tests/jen_collide.c | $(BUILDDIR)/examples
	$(CC) $(STD_FLAGS) -O2 $(TEST_WARN) -Wshadow $(CPPFLAGS) -o $@ $<

bench-sip: $(REGISTRAR)
	$(PY_ENV) $(PYTHON) $(REG_DIR)/bench/bench.py $(call shquote,$(BUILDDIR))

# The fuzz target of `make fuzz` (see the Makefile): every registrar source
# but main.c, with examples/sip-registrar/fuzz/fuzz_sip.c as the entry point.
FUZZ_SIP_OBJS = $(filter-out %/main.o,$(REG_OBJS))

$(BUILDDIR)/fuzzers/fuzz_sip.o: examples/sip-registrar/fuzz/fuzz_sip.c $(BUILDDIR)/stamp.REG_CC | $(BUILDDIR)/fuzzers
	$(CC) $(REG_ALL_CFLAGS) -Iexamples/sip-registrar -c $< -o $@

$(BUILDDIR)/fuzzers/fuzz_sip: $(BUILDDIR)/fuzzers/fuzz_sip.o $(FUZZ_SIP_OBJS) $(STATIC) \
                              $(BUILDDIR)/stamp.REG_LD
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $< $(FUZZ_SIP_OBJS) $(STATIC) $(LIB_PC_LIBS) \
	    $(OSIP_LIBS)

STAMP_REG_CC = $(CC) $(REG_ALL_CFLAGS)
STAMP_REG_LD = $(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) $(LIB_PC_LIBS) $(OSIP_LIBS) $(REG_OBJS)
# The same stamp rule as the Makefile's (its rule is read before this file).
$(addprefix $(BUILDDIR)/stamp.,REG_CC REG_LD): $(BUILDDIR)/stamp.%: FORCE | $(BUILDDIR)
	@printf '%s\n' $(call shquote,$(STAMP_$*)) | cmp -s - $@ \
	    || printf '%s\n' $(call shquote,$(STAMP_$*)) > $@

-include $(REG_OBJS:.o=.d)
