# ---- examples/sip-registrar: mcreg-registrar ---------------------------------------
# Included by the top Makefile. The SIP registrar example: libosip2 for SIP,
# the static libmcreg for the state. Built with `make examples`.
#   check-sip    tests/sip/run.sh: SIPp scenarios against the registrar
#                (Debian sip-tester), each on its own loopback port
#   bench-sip    tests/sip-bench/run.sh: the highest REGISTER rate the
#                registrar sustains with 10^4 UEs, and its CPU split
#                (build/bench-sip.json)
#   install-registrar
#                mcreg-registrar into $(BINDIR), its man page into $(MANDIR)
REG_SRCS   := $(sort $(wildcard examples/sip-registrar/*.c))
REG_OBJS   := $(REG_SRCS:examples/sip-registrar/%.c=$(BUILDDIR)/examples/sip-registrar/%.o)
REGISTRAR   = $(BUILDDIR)/examples/mcreg-registrar

# Evaluated only when the registrar is built, so the library builds without
# libosip2 installed.
OSIP_CFLAGS = $(shell $(PKG_CONFIG) --cflags libosip2)
OSIP_LIBS   = $(shell $(PKG_CONFIG) --libs libosip2)
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

# Beside what `make install` installs; `make uninstall` removes both.
install-registrar: $(REGISTRAR)
	$(if $(filter 1,$(SANITIZE)),$(error install the normal build, not SANITIZE=1))
	install -d -m 755 '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1'
	install -m 755 $(REGISTRAR) '$(DESTDIR)$(BINDIR)/mcreg-registrar'
	install -m 644 man/mcreg-registrar.1 '$(DESTDIR)$(MANDIR)/man1/mcreg-registrar.1'

check-sip: $(REGISTRAR) $(MCREG_DUMP)
	bash tests/sip/run.sh $(call shquote,$(BUILDDIR))

bench-sip: $(REGISTRAR)
	bash tests/sip-bench/run.sh $(call shquote,$(BUILDDIR))

# The fuzz target of `make fuzz` (see the Makefile): every registrar source
# but main.c, with tests/fuzz/fuzz_sip.c as the entry point.
FUZZ_SIP_OBJS = $(filter-out %/main.o,$(REG_OBJS))

$(BUILDDIR)/fuzzers/fuzz_sip.o: tests/fuzz/fuzz_sip.c $(BUILDDIR)/stamp.REG_CC | $(BUILDDIR)/fuzzers
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
