# ################################################################
# libmcreg - Makefile
#
# Targets:
#   all (default)  build/libmcreg.a, build/libmcreg.so.X.Y.Z (+ links), build/mcreg.pc
#   examples       every examples/*.c, linked against the static library
#   demo           build and run examples/multi_device.c
#   check          build everything, run tests/sh/*.sh, then the Check runner
#   check SANITIZE=1
#                  the same build with ASan + UBSan into build/asan/, then the
#                  demo and the Check runner (the shell tests run in the
#                  normal build only)
#   valgrind       the Check runner and the demo under valgrind (CK_FORK=no)
#   install        install the header, both libraries and mcreg.pc
#   uninstall      remove what install installed
#   deps           install the missing Debian packages the targets need
#   clean          remove build/
#
# Variables (all may be set on the command line or in the environment):
#   CC, AR, CFLAGS, CPPFLAGS, LDFLAGS, PKG_CONFIG, NM, READELF, VALGRIND
#   PREFIX, DESTDIR, LIBDIR, INCLUDEDIR, PKGCONFIGDIR
#   BUILDDIR (default build, or build/asan with SANITIZE=1), WERROR
# ################################################################

# Version numbers, read from the public header
HEADER        := include/mcreg.h
LIBVER_MAJOR  := $(shell sed -n '/define MCREG_VERSION_MAJOR/s/.*[[:blank:]]\([0-9][0-9]*\).*/\1/p' < $(HEADER))
LIBVER_MINOR  := $(shell sed -n '/define MCREG_VERSION_MINOR/s/.*[[:blank:]]\([0-9][0-9]*\).*/\1/p' < $(HEADER))
LIBVER_PATCH  := $(shell sed -n '/define MCREG_VERSION_PATCH/s/.*[[:blank:]]\([0-9][0-9]*\).*/\1/p' < $(HEADER))
LIBVER        := $(LIBVER_MAJOR).$(LIBVER_MINOR).$(LIBVER_PATCH)
ifneq ($(words $(LIBVER_MAJOR) $(LIBVER_MINOR) $(LIBVER_PATCH)),3)
$(error could not read MCREG_VERSION_MAJOR/MINOR/PATCH from $(HEADER))
endif

# Tools and flags
CC         ?= cc
AR         ?= ar
NM         ?= nm
READELF    ?= readelf
PKG_CONFIG ?= pkg-config
VALGRIND   ?= valgrind
CFLAGS     ?= -O2 -g
CPPFLAGS   ?=
LDFLAGS    ?=
WERROR     ?= -Werror

# The language level is not optional: it comes before CFLAGS so that an
# explicit -std= in CFLAGS still wins.
STD_FLAGS   = -std=c11
DEP_FLAGS   = -MMD -MP
LIB_WARN    = -Wall -Wextra $(WERROR) -Wshadow -Wpointer-arith -Wcast-qual \
              -Wstrict-prototypes -Wmissing-prototypes
TEST_WARN   = -Wall -Wextra $(WERROR)

# pkg-config modules the library itself links against: libcbor, for the
# snapshot encoder and decoder (mcreg.pc lists it in Requires.private).
LIB_REQUIRES = libcbor
LIB_PC_CFLAGS = $(if $(strip $(LIB_REQUIRES)),$(shell $(PKG_CONFIG) --cflags $(LIB_REQUIRES)))
LIB_PC_LIBS   = $(if $(strip $(LIB_REQUIRES)),$(shell $(PKG_CONFIG) --libs $(LIB_REQUIRES)))

# Check, for the test runner (evaluated only when the runner is built).
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check)
CHECK_LIBS   = $(shell $(PKG_CONFIG) --libs check)

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILDDIR  ?= build/asan
SAN_FLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# The sanitizer runtimes are resolved at load time, so no --no-undefined.
SO_LDFLAGS =
else
BUILDDIR  ?= build
SAN_FLAGS  =
SO_LDFLAGS = -Wl,--no-undefined
endif

# Install locations
DESTDIR      ?=
PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

# Outputs
SONAME     = libmcreg.so.$(LIBVER_MAJOR)
SHARED     = $(BUILDDIR)/libmcreg.so.$(LIBVER)
SHARED_MAJ = $(BUILDDIR)/$(SONAME)
SHARED_DEV = $(BUILDDIR)/libmcreg.so
STATIC     = $(BUILDDIR)/libmcreg.a
PC         = $(BUILDDIR)/mcreg.pc
RUNNER     = $(BUILDDIR)/tests/check_mcreg
DEMO       = $(BUILDDIR)/examples/multi_device

LIB_SRCS  := $(sort $(wildcard lib/*.c))
LIB_OBJS  := $(LIB_SRCS:lib/%.c=$(BUILDDIR)/obj/%.o)
TEST_SRCS := $(sort $(wildcard tests/*.c))
TEST_OBJS := $(TEST_SRCS:tests/%.c=$(BUILDDIR)/tests/%.o)
EX_SRCS   := $(sort $(wildcard examples/*.c))
EX_OBJS   := $(EX_SRCS:examples/%.c=$(BUILDDIR)/examples/%.o)
EX_BINS   := $(EX_OBJS:.o=)
SH_TESTS  := $(sort $(wildcard tests/sh/*.sh))

LIB_ALL_CFLAGS  = $(STD_FLAGS) $(CFLAGS) $(SAN_FLAGS) $(LIB_WARN) -fPIC -fvisibility=hidden \
                  -DMCREG_BUILDING -Iinclude -Ilib $(LIB_PC_CFLAGS) $(CPPFLAGS) $(DEP_FLAGS)
TEST_ALL_CFLAGS = $(STD_FLAGS) $(CFLAGS) $(SAN_FLAGS) $(TEST_WARN) -D_POSIX_C_SOURCE=200809L \
                  -Iinclude -Ilib $(CHECK_CFLAGS) $(CPPFLAGS) $(DEP_FLAGS)
EX_ALL_CFLAGS   = $(STD_FLAGS) $(CFLAGS) $(SAN_FLAGS) $(TEST_WARN) -Iinclude $(CPPFLAGS) $(DEP_FLAGS)

.PHONY: all lib examples demo check test valgrind install uninstall deps clean FORCE

all: lib $(PC)

lib: $(STATIC) $(SHARED) $(SHARED_MAJ) $(SHARED_DEV)

# ---- library ---------------------------------------------------------------

$(LIB_OBJS): $(BUILDDIR)/obj/%.o: lib/%.c $(BUILDDIR)/stamp.LIB_CC | $(BUILDDIR)/obj
	$(CC) $(LIB_ALL_CFLAGS) -c $< -o $@

$(STATIC): $(LIB_OBJS) $(BUILDDIR)/stamp.LIB_LD
	@test -n "$(LIB_OBJS)" || { echo "no sources in lib/" >&2; exit 1; }
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

$(SHARED): $(LIB_OBJS) $(BUILDDIR)/stamp.LIB_LD
	@test -n "$(LIB_OBJS)" || { echo "no sources in lib/" >&2; exit 1; }
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) $(SO_LDFLAGS) \
	    -o $@ $(LIB_OBJS) $(LIB_PC_LIBS)

$(SHARED_MAJ): $(SHARED)
	ln -sf $(notdir $(SHARED)) $@

$(SHARED_DEV): $(SHARED_MAJ)
	ln -sf $(notdir $(SHARED_MAJ)) $@

# ---- pkg-config file ---------------------------------------------------------
# Regenerated whenever an install location or the version changes (see the
# stamps below). libdir and includedir are written relative to ${prefix}
# when they lie under PREFIX.
PC_PREFIX     = $(PREFIX)
PC_LIBDIR     = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
PC_VARS       = $(PC_PREFIX)|$(PC_LIBDIR)|$(PC_INCLUDEDIR)|$(LIBVER)

$(PC): pkgconfig/mcreg.pc.in $(BUILDDIR)/stamp.PC
	sed -e 's|@PREFIX@|$(PC_PREFIX)|' \
	    -e 's|@LIBDIR@|$(PC_LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(LIBVER)|' \
	    $< > $@

# ---- examples ------------------------------------------------------------------

examples: $(EX_BINS)

$(EX_OBJS): $(BUILDDIR)/examples/%.o: examples/%.c $(BUILDDIR)/stamp.EX_CC | $(BUILDDIR)/examples
	$(CC) $(EX_ALL_CFLAGS) -c $< -o $@

$(EX_BINS): $(BUILDDIR)/examples/%: $(BUILDDIR)/examples/%.o $(STATIC) $(BUILDDIR)/stamp.EX_LD
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(LIB_PC_LIBS)

demo: $(DEMO)
	$(DEMO)

# ---- tests ---------------------------------------------------------------------

$(TEST_OBJS): $(BUILDDIR)/tests/%.o: tests/%.c $(BUILDDIR)/stamp.TEST_CC | $(BUILDDIR)/tests
	$(CC) $(TEST_ALL_CFLAGS) -c $< -o $@

$(RUNNER): $(TEST_OBJS) $(STATIC) $(BUILDDIR)/stamp.TEST_LD
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $(TEST_OBJS) $(STATIC) $(LIB_PC_LIBS) $(CHECK_LIBS)

# The environment the shell tests get (they also take the build dir as $1).
# The flags go along so that the make run by install.sh sees the same build
# and rebuilds nothing.
SH_ENV = BUILDDIR=$(call shquote,$(BUILDDIR)) CC=$(call shquote,$(CC)) AR=$(call shquote,$(AR)) \
         CFLAGS=$(call shquote,$(CFLAGS)) CPPFLAGS=$(call shquote,$(CPPFLAGS)) \
         LDFLAGS=$(call shquote,$(LDFLAGS)) WERROR=$(call shquote,$(WERROR)) \
         NM=$(call shquote,$(NM)) READELF=$(call shquote,$(READELF)) \
         PKG_CONFIG=$(call shquote,$(PKG_CONFIG)) MAKE=$(call shquote,$(MAKE))

# Every shell test runs even if an earlier one failed; the Check runner runs
# last so that its summary closes the output; the target fails if any failed.
check: all examples $(RUNNER)
ifeq ($(SANITIZE),1)
	@echo "SANITIZE=1: the shell tests run in the normal build only; running the demo"
	@export UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1}; \
	export CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-4}; \
	status=0; \
	$(DEMO) > /dev/null || { echo "FAIL demo under sanitizers"; status=1; }; \
	$(RUNNER) || status=1; \
	exit $$status
else
	@status=0; \
	for t in $(SH_TESTS); do \
	    $(SH_ENV) bash $$t $(call shquote,$(BUILDDIR)) || status=1; \
	done; \
	$(RUNNER) || status=1; \
	exit $$status
endif

test: check

valgrind: examples $(RUNNER)
ifeq ($(SANITIZE),1)
	$(error valgrind does not work on a sanitized build: run it without SANITIZE=1)
endif
	$(VALGRIND) -q --leak-check=full --error-exitcode=1 $(DEMO) > /dev/null
	CK_FORK=no $(VALGRIND) --leak-check=full --error-exitcode=1 $(RUNNER)

# ---- install ---------------------------------------------------------------------

install: all
	$(if $(filter 1,$(SANITIZE)),$(error install the normal build, not SANITIZE=1))
	install -d -m 755 '$(DESTDIR)$(LIBDIR)' '$(DESTDIR)$(INCLUDEDIR)' '$(DESTDIR)$(PKGCONFIGDIR)'
	install -m 644 $(STATIC) '$(DESTDIR)$(LIBDIR)/libmcreg.a'
	install -m 755 $(SHARED) '$(DESTDIR)$(LIBDIR)/$(notdir $(SHARED))'
	ln -sf $(notdir $(SHARED)) '$(DESTDIR)$(LIBDIR)/$(SONAME)'
	ln -sf $(SONAME) '$(DESTDIR)$(LIBDIR)/libmcreg.so'
	install -m 644 $(HEADER) '$(DESTDIR)$(INCLUDEDIR)/mcreg.h'
	install -m 644 $(PC) '$(DESTDIR)$(PKGCONFIGDIR)/mcreg.pc'
	@echo "libmcreg $(LIBVER) installed in $(DESTDIR)$(PREFIX)"

uninstall:
	rm -f '$(DESTDIR)$(LIBDIR)/libmcreg.a' \
	      '$(DESTDIR)$(LIBDIR)/libmcreg.so' \
	      '$(DESTDIR)$(LIBDIR)/$(SONAME)' \
	      '$(DESTDIR)$(LIBDIR)/libmcreg.so.$(LIBVER)' \
	      '$(DESTDIR)$(INCLUDEDIR)/mcreg.h' \
	      '$(DESTDIR)$(PKGCONFIGDIR)/mcreg.pc'
	@echo "libmcreg $(LIBVER) uninstalled from $(DESTDIR)$(PREFIX)"

# ---- dependencies (Debian) -------------------------------------------------------
# Installs only what is missing; runs apt-get update once, and only then.
# clang is optional (make CC=clang) and is not installed here.
DEB_PACKAGES ?= make gcc libc6-dev binutils pkg-config uthash-dev libcbor-dev check valgrind

deps:
	@missing=; \
	for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' \
	        || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all installed ($(DEB_PACKAGES))"; exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi; \
	echo "deps: installing$$missing"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing

# ---- stamps ------------------------------------------------------------------------
# $(BUILDDIR)/stamp.X holds the value of STAMP_X and is rewritten only when
# that value changes. What depends on a stamp is rebuilt when the compiler,
# a flag, the set of sources or an install location changes, not only when a
# file does.
STAMP_LIB_CC  = $(CC) $(LIB_ALL_CFLAGS)
STAMP_LIB_LD  = $(CC) $(AR) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) $(SO_LDFLAGS) $(LIB_PC_LIBS) $(LIB_OBJS)
STAMP_TEST_CC = $(CC) $(TEST_ALL_CFLAGS)
STAMP_TEST_LD = $(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) $(LIB_PC_LIBS) $(CHECK_LIBS) $(TEST_OBJS)
STAMP_EX_CC   = $(CC) $(EX_ALL_CFLAGS)
STAMP_EX_LD   = $(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) $(LIB_PC_LIBS)
STAMP_PC      = $(PC_VARS)
STAMP_FILES   = $(addprefix $(BUILDDIR)/stamp.,LIB_CC LIB_LD TEST_CC TEST_LD EX_CC EX_LD PC)
shquote       = '$(subst ','\'',$(strip $(1)))'

$(STAMP_FILES): $(BUILDDIR)/stamp.%: FORCE | $(BUILDDIR)
	@printf '%s\n' $(call shquote,$(STAMP_$*)) | cmp -s - $@ \
	    || printf '%s\n' $(call shquote,$(STAMP_$*)) > $@

# ---- housekeeping ------------------------------------------------------------------

$(BUILDDIR) $(BUILDDIR)/obj $(BUILDDIR)/tests $(BUILDDIR)/examples:
	mkdir -p $@

clean:
	rm -rf build
	@echo "cleaned"

FORCE:

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(EX_OBJS:.o=.d)
