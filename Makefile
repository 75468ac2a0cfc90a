# ################################################################
# libmcreg - Makefile
#
# Targets:
#   all (default)  build/libmcreg.a, build/libmcreg.so.X.Y.Z (+ links), build/mcreg.pc
#   examples       every examples/*.c, linked against the static library
#                  (mcreg-dump among them: a snapshot file as JSON)
#   tools          the test tools in tests/tools/ (snapgen: the snapshot of a
#                  deterministic, rich state), linked against the static library
#   demo           build and run examples/multi_device.c
#   check          build everything, run tests/sh/*.sh, the SIPp scenarios of
#                  check-sip, then the Check runner
#   check SANITIZE=1
#                  the same build with ASan + UBSan into build/asan/, then the
#                  demo, the snapshot shell tests (dump.sh, interop.sh) and
#                  the Check runner (the other shell tests run in the normal
#                  build only)
#   check-tsan     the library and the Check runner built with ThreadSanitizer
#                  into build/tsan/, then every suite (the threads suite runs
#                  every query from four threads at once)
#   fuzz           four libFuzzer targets (see "fuzzing" below), built with
#                  clang into build/fuzz/ and run FUZZ_SECONDS each
#   valgrind       the Check runner and the demo under valgrind (CK_FORK=no)
#   bench          tests/bench/: libmcreg against a bare uthash table, SQLite
#                  and Redis, U = 10^4..10^6 users; build/bench.json
#                  (tests/bench/bench.mk)
#   bench-quick    the same for U = 10^4 only: a smoke test of the harness
#   soak           tests/soak/: 10^7 random operations against a reference
#                  model, SOAK_OPS steps of the replication cluster
#                  (tests/soak/repl/), then soak-valgrind (tests/soak/soak.mk)
#   registrar      build/examples/mcreg-registrar, the SIP registrar example
#                  (also built by examples; examples/sip-registrar/registrar.mk)
#   check-sip      examples/sip-registrar/tests/: the registrar's pytest suite
#                  (SIPp scenarios against it)
#   bench-sip      examples/sip-registrar/bench/: the registrar's REGISTER rate
#                  and CPU split
#   bench-cluster  examples/sip-registrar/bench/cluster.py: that rate for one
#                  node, one with --journal and two over Redis, the
#                  replication lag, the journal's and the cluster's cost
#   install        install the header, both libraries, mcreg.pc, and
#                  mcreg-dump with its man page
#   install-registrar
#                  install mcreg-registrar and its man page (needs libosip2;
#                  examples/sip-registrar/registrar.mk)
#   uninstall      remove what install and install-registrar installed
#   deps           install the missing Debian packages the targets need
#   deb            the Debian packages libmcreg0, libmcreg-dev and mcreg-tools
#                  (debian/), built by dpkg-buildpackage from a copy of the
#                  tree in build/deb/src, into build/deb/; then lintian
#   check-deb      tests/deb/consumer.sh: the packages of make deb unpacked
#                  (dpkg -x) into a scratch root, their contents checked, and
#                  the pkg-config consumer built and run against that root
#   deps-deb       install the missing Debian packages that make deb needs
#   clean          remove build/
#
# Variables (all may be set on the command line or in the environment):
#   CC, AR, CFLAGS, CPPFLAGS, LDFLAGS, PKG_CONFIG, NM, READELF, VALGRIND
#   PREFIX, DESTDIR, LIBDIR, INCLUDEDIR, PKGCONFIGDIR, BINDIR, MANDIR
#   BUILDDIR (default build, or build/asan with SANITIZE=1), WERROR
#   FUZZ_CC, FUZZ_SECONDS, FUZZ_BUILDDIR, FUZZ_ARGS (see "fuzzing" below)
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
TSAN ?= 0
FUZZ ?= 0
ifeq ($(FUZZ),1)
# Set by `make fuzz` for its own sub-make (CC=clang, BUILDDIR=build/fuzz):
# the library and the fuzz targets are built with libFuzzer's coverage
# instrumentation, ASan and UBSan.
BUILDDIR  ?= build/fuzz
SAN_FLAGS  = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SO_LDFLAGS =
else ifeq ($(TSAN),1)
# Set by `make check-tsan` for its own sub-make: ThreadSanitizer, for the
# concurrent queries of the threads suite (and every other suite with them).
BUILDDIR  ?= build/tsan
SAN_FLAGS  = -fsanitize=thread -fno-omit-frame-pointer
SO_LDFLAGS =
else ifeq ($(SANITIZE),1)
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
BINDIR       ?= $(PREFIX)/bin
MANDIR       ?= $(PREFIX)/share/man

# Outputs
SONAME     = libmcreg.so.$(LIBVER_MAJOR)
SHARED     = $(BUILDDIR)/libmcreg.so.$(LIBVER)
SHARED_MAJ = $(BUILDDIR)/$(SONAME)
SHARED_DEV = $(BUILDDIR)/libmcreg.so
STATIC     = $(BUILDDIR)/libmcreg.a
PC         = $(BUILDDIR)/mcreg.pc
RUNNER     = $(BUILDDIR)/tests/check_mcreg
DEMO       = $(BUILDDIR)/examples/multi_device
SNAPGEN    = $(BUILDDIR)/tests/tools/snapgen
MCREG_DUMP = $(BUILDDIR)/examples/mcreg-dump

LIB_SRCS  := $(sort $(wildcard lib/*.c))
LIB_OBJS  := $(LIB_SRCS:lib/%.c=$(BUILDDIR)/obj/%.o)
TEST_SRCS := $(sort $(wildcard tests/*.c))
TEST_OBJS := $(TEST_SRCS:tests/%.c=$(BUILDDIR)/tests/%.o)
# Test helpers with a directory of their own: tests/common/ (the Check
# runner's), tests/model/ (the runner's, the soak's and the tools').
COMMON_SRCS := $(sort $(wildcard tests/common/*.c))
COMMON_OBJS := $(COMMON_SRCS:tests/common/%.c=$(BUILDDIR)/tests/common/%.o)
MODEL_SRCS  := $(sort $(wildcard tests/model/*.c))
MODEL_OBJS  := $(MODEL_SRCS:tests/model/%.c=$(BUILDDIR)/tests/model/%.o)
EX_SRCS   := $(sort $(wildcard examples/*.c))
EX_OBJS   := $(EX_SRCS:examples/%.c=$(BUILDDIR)/examples/%.o)
EX_BINS   := $(EX_OBJS:.o=)
TOOL_SRCS := $(sort $(wildcard tests/tools/*.c))
TOOL_OBJS := $(TOOL_SRCS:tests/tools/%.c=$(BUILDDIR)/tests/tools/%.o)
TOOL_BINS := $(TOOL_OBJS:.o=)
SH_TESTS  := $(sort $(wildcard tests/sh/*.sh))
# The shell tests that only run programs of the build (no make, no install):
# these run under SANITIZE=1 too.
SAN_SH_TESTS := tests/sh/dump.sh tests/sh/interop.sh

LIB_ALL_CFLAGS  = $(STD_FLAGS) $(CFLAGS) $(SAN_FLAGS) $(LIB_WARN) -fPIC -fvisibility=hidden \
                  -DMCREG_BUILDING -Iinclude -Ilib $(LIB_PC_CFLAGS) $(CPPFLAGS) $(DEP_FLAGS)
# The helpers every test program shares (tests/common/: seeded random
# numbers, ...; tests/model/: the reference model of the registry's rules).
TEST_INC        = -Itests/common -Itests/model
TEST_ALL_CFLAGS = $(STD_FLAGS) $(CFLAGS) $(SAN_FLAGS) $(TEST_WARN) -D_POSIX_C_SOURCE=200809L \
                  -pthread -Iinclude -Ilib $(TEST_INC) $(CHECK_CFLAGS) $(CPPFLAGS) $(DEP_FLAGS)
EX_ALL_CFLAGS   = $(STD_FLAGS) $(CFLAGS) $(SAN_FLAGS) $(TEST_WARN) -Iinclude $(CPPFLAGS) $(DEP_FLAGS)
TOOL_ALL_CFLAGS = $(STD_FLAGS) $(CFLAGS) $(SAN_FLAGS) $(TEST_WARN) -D_POSIX_C_SOURCE=200809L \
                  -Iinclude $(TEST_INC) $(CPPFLAGS) $(DEP_FLAGS)

.PHONY: all lib examples tools demo check check-tsan tsan-run test valgrind fuzz fuzz-run install \
        uninstall deps deps-deb deb check-deb clean FORCE

all: lib $(PC)

lib: $(STATIC) $(SHARED) $(SHARED_MAJ) $(SHARED_DEV)

# ---- library ---------------------------------------------------------------

$(LIB_OBJS): $(BUILDDIR)/obj/%.o: lib/%.c $(BUILDDIR)/stamp.LIB_CC | $(BUILDDIR)/obj
	$(CC) $(LIB_ALL_CFLAGS) -c $< -o $@

$(STATIC): $(LIB_OBJS) $(BUILDDIR)/stamp.LIB_LD
	@test -n "$(LIB_OBJS)" || { echo "no sources in lib/" >&2; exit 1; }
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

# The version script lists every exported function under the version node
# of the release that added it; everything else stays local. A new public
# function is declared with MCREG_API in mcreg.h and added to the newest
# node of $(VERSION_SCRIPT) (its opening comment says how, and when a new
# node is due); tests/sh/exports.sh fails when the two disagree.
VERSION_SCRIPT = lib/libmcreg.map

$(SHARED): $(LIB_OBJS) $(VERSION_SCRIPT) $(BUILDDIR)/stamp.LIB_LD
	@test -n "$(LIB_OBJS)" || { echo "no sources in lib/" >&2; exit 1; }
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) $(SO_LDFLAGS) \
	    -Wl,--version-script=$(VERSION_SCRIPT) -o $@ $(LIB_OBJS) $(LIB_PC_LIBS)

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

# ---- test tools ------------------------------------------------------------------

tools: $(TOOL_BINS)

$(TOOL_OBJS): $(BUILDDIR)/tests/tools/%.o: tests/tools/%.c $(BUILDDIR)/stamp.TOOL_CC | $(BUILDDIR)/tests/tools
	$(CC) $(TOOL_ALL_CFLAGS) -c $< -o $@

# The reference model: built once, as the tools are (no Check), and linked
# into the tools, the Check runner and the soak.
$(MODEL_OBJS): $(BUILDDIR)/tests/model/%.o: tests/model/%.c $(BUILDDIR)/stamp.TOOL_CC \
               | $(BUILDDIR)/tests/model
	$(CC) $(TOOL_ALL_CFLAGS) -c $< -o $@

$(TOOL_BINS): $(BUILDDIR)/tests/tools/%: $(BUILDDIR)/tests/tools/%.o $(MODEL_OBJS) $(STATIC) \
              $(BUILDDIR)/stamp.TOOL_LD
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $< $(MODEL_OBJS) $(STATIC) $(LIB_PC_LIBS)

# ---- tests ---------------------------------------------------------------------

$(TEST_OBJS): $(BUILDDIR)/tests/%.o: tests/%.c $(BUILDDIR)/stamp.TEST_CC | $(BUILDDIR)/tests
	$(CC) $(TEST_ALL_CFLAGS) -c $< -o $@

$(COMMON_OBJS): $(BUILDDIR)/tests/common/%.o: tests/common/%.c $(BUILDDIR)/stamp.TEST_CC \
                | $(BUILDDIR)/tests/common
	$(CC) $(TEST_ALL_CFLAGS) -c $< -o $@

$(RUNNER): $(TEST_OBJS) $(COMMON_OBJS) $(MODEL_OBJS) $(STATIC) $(BUILDDIR)/stamp.TEST_LD
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -pthread -o $@ $(TEST_OBJS) $(COMMON_OBJS) $(MODEL_OBJS) $(STATIC) \
	    $(LIB_PC_LIBS) $(CHECK_LIBS)

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
check: all examples tools $(RUNNER)
ifeq ($(SANITIZE),1)
	@echo "SANITIZE=1: running the demo, $(notdir $(SAN_SH_TESTS)) and the Check runner"
	@export UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1}; \
	export CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-4}; \
	status=0; \
	$(DEMO) > /dev/null || { echo "FAIL demo under sanitizers"; status=1; }; \
	for t in $(SAN_SH_TESTS); do \
	    $(SH_ENV) bash $$t $(call shquote,$(BUILDDIR)) || status=1; \
	done; \
	$(RUNNER) || status=1; \
	exit $$status
else
	@status=0; \
	for t in $(SH_TESTS); do \
	    $(SH_ENV) bash $$t $(call shquote,$(BUILDDIR)) || status=1; \
	done; \
	$(CHECK_SIP) || status=1; \
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

# ---- ThreadSanitizer ---------------------------------------------------------------
# `make check-tsan` builds the library and the Check runner with
# -fsanitize=thread into $(TSAN_BUILDDIR) and runs every suite; the threads
# suite (tests/test_threads.c) runs every query from four threads at once on
# one registry, so any write a query makes to it is reported. A report fails
# the test it happened in (exit code 66).
TSAN_BUILDDIR ?= build/tsan

check-tsan:
	@$(MAKE) --no-print-directory TSAN=1 SANITIZE=0 BUILDDIR=$(call shquote,$(TSAN_BUILDDIR)) tsan-run

# Only in the sub-make of `make check-tsan`.
ifneq ($(TSAN),1)
tsan-run:
	$(error tsan-run is the second half of make check-tsan: run make check-tsan)
else
tsan-run: $(RUNNER)
	@export TSAN_OPTIONS=$${TSAN_OPTIONS:-halt_on_error=1 exitcode=66 second_deadlock_stack=1}; \
	export CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-10}; \
	$(RUNNER)
endif

# ---- fuzzing ---------------------------------------------------------------------
# `make fuzz` builds four libFuzzer targets with $(FUZZ_CC) into $(FUZZ_BUILDDIR)
# (the library is compiled there again with -fsanitize=fuzzer,address,undefined
# -g -O1) and runs each for FUZZ_SECONDS seconds:
#   tests/fuzz/fuzz_restore.c    mcreg_restore of any bytes into a registry that
#       holds a small state (UE exclusive on or off by the input's last byte):
#       on error the state is unchanged, on success it snapshots; an
#       allocation failure injected into a successful restore changes nothing
#   tests/fuzz/fuzz_roundtrip.c  restore; if that succeeds, snapshot A,
#       restore A into a fresh registry, snapshot B: A and B must be equal
#   tests/fuzz/fuzz_apply.c      mcreg_changes_apply of any bytes into a
#       registry with a node id and a replicated state: on error the state
#       is unchanged, on success a second apply changes nothing, and an
#       injected allocation failure changes nothing
#   examples/sip-registrar/fuzz/fuzz_sip.c  the registrar example (with
#       libosip2) fed datagrams from the network, then everything expired,
#       retransmitted, timed out and freed; seeds in
#       examples/sip-registrar/fuzz/corpus/, dictionary
#       examples/sip-registrar/fuzz/sip.dict
# Each target starts from a copy of tests/fuzz/corpus/ (fuzz_sip:
# examples/sip-registrar/fuzz/corpus/) in $(FUZZ_BUILDDIR)/corpus/TARGET/
# (which keeps what it finds; the committed corpus is never written) with the
# dictionary tests/fuzz/cbor.dict (fuzz_sip: examples/sip-registrar/fuzz/sip.dict). A crash,
# a leak, a sanitizer report, a timeout or running out of memory fails the
# target; the input is left in $(FUZZ_BUILDDIR)/artifacts/ and libFuzzer's
# output in $(FUZZ_BUILDDIR)/logs/. Reproduce with
#   $(FUZZ_BUILDDIR)/fuzzers/TARGET $(FUZZ_BUILDDIR)/artifacts/FILE
# FUZZ_ARGS adds libFuzzer options (say -jobs=2 -workers=2).
# tests/fuzz/make_corpus.py (python3-cbor2) rewrites the committed corpus
# from snapgen and hand-made edge cases.
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_BUILDDIR ?= build/fuzz
FUZZ_ARGS     ?=
FUZZ_TARGETS   = fuzz_restore fuzz_roundtrip fuzz_apply fuzz_sip
FUZZ_CORPUS    = tests/fuzz/corpus
FUZZ_DICT      = tests/fuzz/cbor.dict
# fuzz_sip (examples/sip-registrar/fuzz/fuzz_sip.c): the registrar example's
# datagram handling, built by examples/sip-registrar/registrar.mk, with its
# own seeds and dictionary next to it.
FUZZ_SIP_CORPUS = examples/sip-registrar/fuzz/corpus
FUZZ_SIP_DICT   = examples/sip-registrar/fuzz/sip.dict
# -max_len per target: 4096 for the library's (a snapshot of a few records),
# for fuzz_sip the largest datagram the registrar lets through to osip,
# SIP_MAX_ACCEPTED, read from examples/sip-registrar/registrar.h so that
# the two cannot differ: osip's slow paths are only reached that far.
FUZZ_MAX_LEN     = 4096
FUZZ_SIP_MAX_LEN = $(shell sed -n 's/^\#define SIP_MAX_ACCEPTED \([0-9][0-9]*\)u*\( .*\)*$$/\1/p' \
                     examples/sip-registrar/registrar.h)
FUZZ_OPTS      = -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
                 -print_final_stats=1
FUZZ_BINS      = $(FUZZ_TARGETS:%=$(BUILDDIR)/fuzzers/%)
FUZZ_LIB_BINS  = $(filter-out %/fuzz_sip,$(FUZZ_BINS))
FUZZ_ALL_CFLAGS = $(STD_FLAGS) $(CFLAGS) $(SAN_FLAGS) $(TEST_WARN) -Iinclude -Itests/fuzz $(TEST_INC) $(CPPFLAGS) $(DEP_FLAGS)

fuzz:
	@command -v $(firstword $(FUZZ_CC)) > /dev/null 2>&1 \
	    || { echo "fuzz: $(FUZZ_CC) not found: run make deps" >&2; exit 1; }
	@$(MAKE) --no-print-directory FUZZ=1 SANITIZE=0 CC=$(call shquote,$(FUZZ_CC)) CFLAGS='-g -O1' \
	    BUILDDIR=$(call shquote,$(FUZZ_BUILDDIR)) fuzz-run

# Only in the sub-make of `make fuzz`.
ifneq ($(FUZZ),1)
fuzz-run:
	$(error fuzz-run is the second half of make fuzz: run make fuzz)
else
fuzz-run: $(FUZZ_BINS)
	$(if $(FUZZ_SIP_MAX_LEN),,$(error no SIP_MAX_ACCEPTED in examples/sip-registrar/registrar.h))
	@mkdir -p $(BUILDDIR)/artifacts $(BUILDDIR)/logs
	@export UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1}; \
	passed=0; failed=0; \
	for t in $(FUZZ_TARGETS); do \
	    work=$(BUILDDIR)/corpus/$$t; log=$(BUILDDIR)/logs/$$t.log; \
	    case $$t in \
	        fuzz_sip) corpus=$(FUZZ_SIP_CORPUS) dict=$(FUZZ_SIP_DICT) max_len=$(FUZZ_SIP_MAX_LEN) ;; \
	        *) corpus=$(FUZZ_CORPUS) dict=$(FUZZ_DICT) max_len=$(FUZZ_MAX_LEN) ;; \
	    esac; \
	    mkdir -p "$$work" && cp "$$corpus"/* "$$work"/ || exit 1; \
	    echo "== fuzz $$t: $(FUZZ_SECONDS) s, -max_len=$$max_len, $$(ls "$$work" | wc -l) inputs in $$work"; \
	    if $(BUILDDIR)/fuzzers/$$t $(FUZZ_OPTS) -max_len=$$max_len -dict="$$dict" \
	           -artifact_prefix=$(BUILDDIR)/artifacts/$$t- \
	           $(FUZZ_ARGS) "$$work" > "$$log" 2>&1; then \
	        grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$$log" | tail -n 1; \
	        grep -E '^stat::' "$$log" | tr '\n' ' '; echo; \
	        echo "PASS fuzz $$t"; passed=$$((passed + 1)); \
	    else \
	        tail -n 60 "$$log"; \
	        echo "FAIL fuzz $$t: see $$log and $(BUILDDIR)/artifacts/"; failed=$$((failed + 1)); \
	    fi; \
	done; \
	echo "fuzz: $$passed passed, $$failed failed"; \
	test $$failed -eq 0
endif

$(BUILDDIR)/fuzzers/%.o: tests/fuzz/%.c $(BUILDDIR)/stamp.FUZZ_CC | $(BUILDDIR)/fuzzers
	$(CC) $(FUZZ_ALL_CFLAGS) -c $< -o $@

$(FUZZ_LIB_BINS): $(BUILDDIR)/fuzzers/%: $(BUILDDIR)/fuzzers/%.o $(STATIC) $(BUILDDIR)/stamp.FUZZ_LD
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(LIB_PC_LIBS)

# ---- install ---------------------------------------------------------------------

install: all $(MCREG_DUMP)
	$(if $(filter 1,$(SANITIZE)),$(error install the normal build, not SANITIZE=1))
	install -d -m 755 '$(DESTDIR)$(LIBDIR)' '$(DESTDIR)$(INCLUDEDIR)' '$(DESTDIR)$(PKGCONFIGDIR)' \
	    '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1'
	install -m 644 $(STATIC) '$(DESTDIR)$(LIBDIR)/libmcreg.a'
	install -m 755 $(SHARED) '$(DESTDIR)$(LIBDIR)/$(notdir $(SHARED))'
	ln -sf $(notdir $(SHARED)) '$(DESTDIR)$(LIBDIR)/$(SONAME)'
	ln -sf $(SONAME) '$(DESTDIR)$(LIBDIR)/libmcreg.so'
	install -m 644 $(HEADER) '$(DESTDIR)$(INCLUDEDIR)/mcreg.h'
	install -m 644 $(PC) '$(DESTDIR)$(PKGCONFIGDIR)/mcreg.pc'
	install -m 755 $(MCREG_DUMP) '$(DESTDIR)$(BINDIR)/mcreg-dump'
	install -m 644 man/mcreg-dump.1 '$(DESTDIR)$(MANDIR)/man1/mcreg-dump.1'
	@echo "libmcreg $(LIBVER) installed in $(DESTDIR)$(PREFIX)"

uninstall:
	rm -f '$(DESTDIR)$(LIBDIR)/libmcreg.a' \
	      '$(DESTDIR)$(LIBDIR)/libmcreg.so' \
	      '$(DESTDIR)$(LIBDIR)/$(SONAME)' \
	      '$(DESTDIR)$(LIBDIR)/libmcreg.so.$(LIBVER)' \
	      '$(DESTDIR)$(INCLUDEDIR)/mcreg.h' \
	      '$(DESTDIR)$(PKGCONFIGDIR)/mcreg.pc' \
	      '$(DESTDIR)$(BINDIR)/mcreg-dump' '$(DESTDIR)$(MANDIR)/man1/mcreg-dump.1' \
	      '$(DESTDIR)$(BINDIR)/mcreg-registrar' '$(DESTDIR)$(MANDIR)/man1/mcreg-registrar.1'
	@echo "libmcreg $(LIBVER) uninstalled from $(DESTDIR)$(PREFIX)"

# ---- dependencies (Debian) -------------------------------------------------------
# Installs only what is missing; runs apt-get update once, and only then.
# clang and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes, which
# clang only recommends) are for make fuzz and make CC=clang; python3-cbor2
# for tests/sh/interop.sh.
# The benchmarks' alternatives (tests/bench/): SQLite, and Redis through
# hiredis with its own redis-server. The registrar example: libosip2; SIPp
# (sip-tester) for check-sip, bench-sip and bench-cluster, python3-pytest for
# check-sip, perf for bench-sip's CPU split, redis-server for bench-cluster.
DEB_PACKAGES ?= make gcc libc6-dev binutils pkg-config uthash-dev libcbor-dev check valgrind \
                clang libclang-rt-14-dev python3 python3-cbor2 python3-pytest \
                libsqlite3-dev libhiredis-dev redis-server \
                libosip2-dev sip-tester linux-perf

# For make deb only: the tools, and debian/control's Build-Depends
# (tests/sh/debian.sh checks that they are all here).
DEB_BUILD_PACKAGES ?= build-essential dpkg-dev debhelper lintian \
                      pkgconf uthash-dev libcbor-dev libosip2-dev libhiredis-dev check

# $(call apt_install_missing,TARGET,PACKAGES)
apt_install_missing = \
	missing=; \
	for p in $(2); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' \
	        || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "$(1): all installed ($(strip $(2)))"; exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi; \
	echo "$(1): installing$$missing"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing

deps:
	@$(call apt_install_missing,deps,$(DEB_PACKAGES))

deps-deb:
	@$(call apt_install_missing,deps-deb,$(DEB_BUILD_PACKAGES))

# ---- Debian packages ---------------------------------------------------------------
# dpkg-buildpackage writes the packages into the parent of the tree it
# builds, so it builds a copy of this one (less build/ and .git) in
# $(DEB_DIR)/src, and the .deb, .buildinfo and .changes files land in
# $(DEB_DIR). debian/rules runs this Makefile (PREFIX=/usr, the multiarch
# LIBDIR, DESTDIR) with dpkg-buildflags' CFLAGS, CPPFLAGS and LDFLAGS, and
# fails when the exports differ from debian/libmcreg0.symbols. lintian then
# fails on any error or warning. What an outer make passes down (MAKEFLAGS,
# command-line variables) is dropped: the package builds as it would alone.
DEB_DIR  ?= build/deb
DEB_JOBS ?= 2

deb:
	rm -rf '$(DEB_DIR)'
	mkdir -p '$(DEB_DIR)/src'
	tar -c -f - --exclude=./build --exclude=./.git . | tar -x -f - -C '$(DEB_DIR)/src'
	cd '$(DEB_DIR)/src' && env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL \
	    dpkg-buildpackage -us -uc -b -J$(DEB_JOBS)
	lintian --fail-on error,warning '$(DEB_DIR)'/*.changes
	@echo "deb: packages in $(DEB_DIR):"; ls -1 '$(DEB_DIR)'/*.deb

check-deb:
	CC=$(call shquote,$(CC)) PKG_CONFIG=$(call shquote,$(PKG_CONFIG)) READELF=$(call shquote,$(READELF)) \
	    bash tests/deb/consumer.sh $(call shquote,$(DEB_DIR))

# ---- stamps ------------------------------------------------------------------------
# $(BUILDDIR)/stamp.X holds the value of STAMP_X and is rewritten only when
# that value changes. What depends on a stamp is rebuilt when the compiler,
# a flag, the set of sources or an install location changes, not only when a
# file does.
STAMP_LIB_CC  = $(CC) $(LIB_ALL_CFLAGS)
STAMP_LIB_LD  = $(CC) $(AR) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) $(SO_LDFLAGS) $(LIB_PC_LIBS) $(LIB_OBJS)
STAMP_TEST_CC = $(CC) $(TEST_ALL_CFLAGS)
STAMP_TEST_LD = $(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -pthread $(LIB_PC_LIBS) $(CHECK_LIBS) $(TEST_OBJS) \
                $(COMMON_OBJS) $(MODEL_OBJS)
STAMP_EX_CC   = $(CC) $(EX_ALL_CFLAGS)
STAMP_EX_LD   = $(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) $(LIB_PC_LIBS)
STAMP_TOOL_CC = $(CC) $(TOOL_ALL_CFLAGS)
STAMP_TOOL_LD = $(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) $(LIB_PC_LIBS) $(MODEL_OBJS)
STAMP_FUZZ_CC = $(CC) $(FUZZ_ALL_CFLAGS)
STAMP_FUZZ_LD = $(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) $(LIB_PC_LIBS)
STAMP_PC      = $(PC_VARS)
STAMP_FILES   = $(addprefix $(BUILDDIR)/stamp.,LIB_CC LIB_LD TEST_CC TEST_LD EX_CC EX_LD TOOL_CC \
                  TOOL_LD FUZZ_CC FUZZ_LD PC)
shquote       = '$(subst ','\'',$(strip $(1)))'

$(STAMP_FILES): $(BUILDDIR)/stamp.%: FORCE | $(BUILDDIR)
	@printf '%s\n' $(call shquote,$(STAMP_$*)) | cmp -s - $@ \
	    || printf '%s\n' $(call shquote,$(STAMP_$*)) > $@

# ---- housekeeping ------------------------------------------------------------------

$(BUILDDIR) $(BUILDDIR)/obj $(BUILDDIR)/tests $(BUILDDIR)/examples $(BUILDDIR)/tests/tools \
$(BUILDDIR)/fuzzers $(BUILDDIR)/tests/common $(BUILDDIR)/tests/model:
	mkdir -p $@

clean:
	rm -rf build
	@echo "cleaned"

FORCE:

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(COMMON_OBJS:.o=.d) $(MODEL_OBJS:.o=.d) \
         $(EX_OBJS:.o=.d) $(TOOL_OBJS:.o=.d) \
         $(FUZZ_BINS:=.d)
include tests/bench/bench.mk
include examples/sip-registrar/registrar.mk
include tests/soak/soak.mk
