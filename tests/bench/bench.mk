# ################################################################
# tests/bench/bench.mk - the benchmark harness, included by the top-level
# Makefile (it uses that Makefile's variables and rules: $(BUILDDIR),
# $(STATIC), $(CC), $(CFLAGS), $(STD_FLAGS), $(TEST_WARN), $(LIB_PC_LIBS),
# $(SAN_FLAGS), $(PKG_CONFIG), shquote).
#
# Targets:
#   bench        build $(BUILDDIR)/bench/mcreg-bench and run it for
#                U = 10^4, 10^5 and 10^6 users (2 UEs each): libmcreg against
#                a bare uthash table, SQLite in memory and Redis; writes
#                $(BUILDDIR)/bench.json
#                then the latency section: per-call p50, p99, p99.9 and worst
#                of register, refresh, find, deregister and expire at
#                BENCH_LATENCY records, without and with a capacity, side by
#                side; writes $(BUILDDIR)/bench-latency.json
#   bench-latency  the latency section alone
#                then $(BUILDDIR)/bench/mcreg-bench-repl (tests/bench/repl/):
#                replication's costs at 10^5 and 10^6 records (register with
#                and without a node id, apply, tombstones, snapshot merge
#                against restore)
#   bench-quick  the same binaries for U = 10^4 only (latency and replication
#                at 10^4 records), writing
#                $(BUILDDIR)/bench-quick.json: a smoke test that the harness
#                works. It fails only when the harness does (a backend error,
#                a count that disagrees, a crash), never on speed.
#
# Variables (command line or environment):
#   BENCH_MAX_USERS  drop every U above it (say 100000 for a shorter run)
#   BENCH_REPS       repetitions per operation (default 5; the median never
#                    takes fewer than 5)
#   BENCH_USERS      the list of U (default 10000,100000,1000000)
#   BENCH_BACKENDS   a subset of libmcreg,floor,sqlite,redis
#   BENCH_LATENCY    records of the latency section (default 100000,1000000)
#   BENCH_ARGS       more mcreg-bench options (mcreg-bench --help)
# Needs libsqlite3-dev, libhiredis-dev and uthash-dev (pkg-config sqlite3
# hiredis); redis-server to run the Redis backend, which is skipped without
# it.
# ################################################################

BENCH_REPS      ?= 5
BENCH_MAX_USERS ?=
BENCH_USERS     ?= 10000,100000,1000000
BENCH_BACKENDS  ?=
BENCH_ARGS      ?=
BENCH_LATENCY   ?= 100000,1000000
BENCH_JSON       = $(BUILDDIR)/bench.json
BENCH_QUICK_JSON = $(BUILDDIR)/bench-quick.json
BENCH_LATENCY_JSON = $(BUILDDIR)/bench-latency.json

BENCH_SRCS := $(sort $(wildcard tests/bench/*.c))
BENCH_OBJS := $(BENCH_SRCS:tests/bench/%.c=$(BUILDDIR)/bench/%.o)
BENCH_BIN  := $(BUILDDIR)/bench/mcreg-bench

# Evaluated only when a bench rule runs, so that a build without SQLite or
# hiredis installed never calls pkg-config for them.
BENCH_PC_MODULES = sqlite3 hiredis
BENCH_PC_CFLAGS  = $(shell $(PKG_CONFIG) --cflags $(BENCH_PC_MODULES))
BENCH_PC_LIBS    = $(shell $(PKG_CONFIG) --libs $(BENCH_PC_MODULES))

# As the test tools are built, plus the two client libraries.
BENCH_ALL_CFLAGS = $(STD_FLAGS) $(CFLAGS) $(SAN_FLAGS) $(TEST_WARN) -Iinclude $(TEST_INC) \
                   $(BENCH_PC_CFLAGS) $(CPPFLAGS) $(DEP_FLAGS)

# The library's git commit for the JSON, with -dirty when lib/ or include/
# differ from it.
BENCH_ENV = BENCH_GIT_COMMIT="$$(c=$$(git rev-parse HEAD 2>/dev/null) && \
            { git diff --quiet HEAD -- lib include 2>/dev/null || c="$$c-dirty"; }; \
            echo "$$c")"

.PHONY: bench bench-quick bench-latency bench-deps-check

# Replication's costs (tests/bench/repl/bench_repl.c): its own binary, as
# it needs none of the alternatives' client libraries.
BENCH_REPL_RECORDS ?= 100000,1000000
# Defined before the rules that name it: make expands prerequisites as it
# reads them.
BENCH_REPL_BIN := $(BUILDDIR)/bench/mcreg-bench-repl


bench: $(BENCH_BIN) $(BENCH_REPL_BIN)
	@$(BENCH_ENV) $(BENCH_BIN) --users '$(BENCH_USERS)' --reps '$(BENCH_REPS)' \
	    $(if $(strip $(BENCH_MAX_USERS)),--max-users '$(BENCH_MAX_USERS)') \
	    $(if $(strip $(BENCH_BACKENDS)),--backends '$(BENCH_BACKENDS)') \
	    --json $(call shquote,$(BENCH_JSON)) \
	    --latency '$(BENCH_LATENCY)' --latency-json $(call shquote,$(BENCH_LATENCY_JSON)) \
	    $(BENCH_ARGS)
	@$(BENCH_REPL_BIN) --records '$(BENCH_REPL_RECORDS)' --reps 3

bench-latency: $(BENCH_BIN)
	@$(BENCH_ENV) $(BENCH_BIN) --latency '$(BENCH_LATENCY)' --latency-only 1 \
	    --latency-json $(call shquote,$(BENCH_LATENCY_JSON)) $(BENCH_ARGS)

bench-quick: $(BENCH_BIN) $(BENCH_REPL_BIN)
	@$(BENCH_ENV) $(BENCH_BIN) --users 10000 --reps '$(BENCH_REPS)' \
	    $(if $(strip $(BENCH_BACKENDS)),--backends '$(BENCH_BACKENDS)') \
	    --json $(call shquote,$(BENCH_QUICK_JSON)) --latency 10000 \
	    --latency-json $(call shquote,$(BUILDDIR)/bench-quick-latency.json) $(BENCH_ARGS)
	@$(BENCH_REPL_BIN) --records 10000 --reps 1

$(BENCH_REPL_BIN): tests/bench/repl/bench_repl.c $(STATIC) | $(BUILDDIR)/bench
	$(CC) $(STD_FLAGS) $(CFLAGS) $(SAN_FLAGS) $(TEST_WARN) -Iinclude $(CPPFLAGS) $(LDFLAGS) \
	    -o $@ $< $(STATIC) $(LIB_PC_LIBS)

bench-deps-check:
	@$(PKG_CONFIG) --exists $(BENCH_PC_MODULES) || { \
	    echo "bench: needs the pkg-config modules $(BENCH_PC_MODULES)" \
	         "(Debian: libsqlite3-dev libhiredis-dev)" >&2; exit 1; }

$(BENCH_OBJS): $(BUILDDIR)/bench/%.o: tests/bench/%.c $(BUILDDIR)/stamp.BENCH_CC \
               | bench-deps-check $(BUILDDIR)/bench
	$(CC) $(BENCH_ALL_CFLAGS) -c $< -o $@

$(BENCH_BIN): $(BENCH_OBJS) $(STATIC) $(BUILDDIR)/stamp.BENCH_LD
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $(BENCH_OBJS) $(STATIC) $(LIB_PC_LIBS) \
	    $(BENCH_PC_LIBS) -lm

$(BUILDDIR)/bench:
	mkdir -p $@

# Rebuild when the compiler or a flag changes, as the top-level stamps do
# for the other programs (STAMP_FILES there is fixed before this file is
# read, so these two have a rule of their own).
STAMP_BENCH_CC = $(CC) $(BENCH_ALL_CFLAGS)
STAMP_BENCH_LD = $(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) $(LIB_PC_LIBS) $(BENCH_PC_LIBS)

$(BUILDDIR)/stamp.BENCH_CC $(BUILDDIR)/stamp.BENCH_LD: $(BUILDDIR)/stamp.%: FORCE | $(BUILDDIR)
	@printf '%s\n' $(call shquote,$(STAMP_$*)) | cmp -s - $@ \
	    || printf '%s\n' $(call shquote,$(STAMP_$*)) > $@

-include $(BENCH_OBJS:.o=.d)
