# ################################################################
# tests/soak/soak.mk - the soak test, included by the top-level Makefile
# (every variable not defined here comes from there).
#
# Targets:
#   soak           build $(BUILDDIR)/soak/mcreg-soak from tests/soak/*.c, the
#                  reference model (tests/model/) and the static library,
#                  run it (SOAK_OPS random operations over SOAK_USERS users,
#                  seed SOAK_SEED), then soak-valgrind.
#                  With SANITIZE=1 the binary is built with ASan and UBSan
#                  (in build/asan/) and the valgrind run is skipped.
#   soak-valgrind  the same binary with SOAK_VALGRIND_OPS operations over
#                  SOAK_VALGRIND_USERS users under valgrind's memcheck; any
#                  error or leak of any kind fails. Fewer users than the main
#                  run: the start (every UE registers), the full comparisons
#                  and the final checks cost in proportion to the users, and
#                  under memcheck 100000 users take over half an hour; 10000
#                  users and 100000 operations also reach the steady state.
#
# Variables (command line or environment):
#   SOAK_OPS (10000000), SOAK_USERS (100000), SOAK_SEED (1),
#   SOAK_VALGRIND_OPS (100000), SOAK_VALGRIND_USERS (10000); the program
#   also reads SOAK_POLICY (oldest, soonest, reject) and SOAK_LOGOFF (0, 1)
#   from the environment.
# ################################################################

SOAK_OPS            ?= 10000000
SOAK_USERS          ?= 100000
SOAK_SEED           ?= 1
SOAK_VALGRIND_OPS   ?= 100000
SOAK_VALGRIND_USERS ?= 10000

SOAK_SRCS  := $(sort $(wildcard tests/soak/*.c))
SOAK_OBJS  := $(SOAK_SRCS:tests/soak/%.c=$(BUILDDIR)/soak/%.o)
SOAK_BIN    = $(BUILDDIR)/soak/mcreg-soak
SOAK_ALL_CFLAGS = $(STD_FLAGS) $(CFLAGS) $(SAN_FLAGS) $(TEST_WARN) -D_POSIX_C_SOURCE=200809L \
                  -Iinclude $(TEST_INC) $(CPPFLAGS) $(DEP_FLAGS)
SOAK_RUN    = SOAK_OPS=$(call shquote,$(SOAK_OPS)) SOAK_USERS=$(call shquote,$(SOAK_USERS)) \
              SOAK_SEED=$(call shquote,$(SOAK_SEED)) $(SOAK_BIN)
SOAK_VG_RUN = SOAK_OPS=$(call shquote,$(SOAK_VALGRIND_OPS)) \
              SOAK_USERS=$(call shquote,$(SOAK_VALGRIND_USERS)) SOAK_SEED=$(call shquote,$(SOAK_SEED)) \
              $(VALGRIND) $(SOAK_VALGRIND_FLAGS) $(SOAK_BIN)
SOAK_VALGRIND_FLAGS = --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
                      --error-exitcode=1

.PHONY: soak soak-valgrind

soak: $(SOAK_BIN)
	$(SOAK_RUN)
ifeq ($(SANITIZE),1)
	@echo "soak: SANITIZE=1: no valgrind run on a sanitized build"
else
	$(SOAK_VG_RUN)
endif

soak-valgrind: $(SOAK_BIN)
ifeq ($(SANITIZE),1)
	$(error valgrind does not work on a sanitized build: run it without SANITIZE=1)
endif
	$(SOAK_VG_RUN)

# Built like the examples: objects, then a link against the static library.
$(SOAK_OBJS): $(BUILDDIR)/soak/%.o: tests/soak/%.c $(BUILDDIR)/soak/stamp.CC | $(BUILDDIR)/soak
	$(CC) $(SOAK_ALL_CFLAGS) -c $< -o $@

$(SOAK_BIN): $(SOAK_OBJS) $(MODEL_OBJS) $(STATIC) $(BUILDDIR)/soak/stamp.LD
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $(SOAK_OBJS) $(MODEL_OBJS) $(STATIC) $(LIB_PC_LIBS)

# Stamps as in the Makefile: rebuild when the compiler or a flag changes.
STAMP_SOAK_CC = $(CC) $(SOAK_ALL_CFLAGS)
STAMP_SOAK_LD = $(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) $(LIB_PC_LIBS) $(SOAK_OBJS) $(MODEL_OBJS)
SOAK_STAMPS   = $(BUILDDIR)/soak/stamp.CC $(BUILDDIR)/soak/stamp.LD

$(SOAK_STAMPS): $(BUILDDIR)/soak/stamp.%: FORCE | $(BUILDDIR)/soak
	@printf '%s\n' $(call shquote,$(STAMP_SOAK_$*)) | cmp -s - $@ \
	    || printf '%s\n' $(call shquote,$(STAMP_SOAK_$*)) > $@

$(BUILDDIR)/soak:
	mkdir -p $@

-include $(SOAK_OBJS:.o=.d)
