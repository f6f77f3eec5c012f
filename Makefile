# r1c - build, test and benchmark.
#   make            library + bin/ executables (warnings are errors)
#   make test       every test (C unit tests, then PyTorch/Python reference tests)
#   make asan       the same executables and tests with AddressSanitizer + UBSan, in build/asan
#   make test-asan  the test suite against the sanitizer build
#   make bench      benchmarks, each next to its reference
#   make deps       install what a fresh Debian machine lacks (scripts/install-deps.sh)
#   make real-model fetch the real pretrained model the GGUF tests use (scripts/real-model.sh)
#   make cuda       compile the CUDA sources with nvcc (when there are any and nvcc exists)
#   make fuzz       libFuzzer on the tokenizer's encoder and the answer parsers (FUZZ_SECONDS=60 each)
#   make format     clang-format every C source in place

CC      ?= cc
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
BUILD   ?= build
OPT     ?= -O2
SAN     ?=
ARCHFLAGS ?= -march=x86-64-v3
CFLAGS  = -std=c11 $(OPT) -g $(ARCHFLAGS) -Wall -Wextra -Werror -fopenmp -D_DEFAULT_SOURCE -Icore -Itools -Idatasets -Ireward -Irollout -Igrpo -Isft -Itests -I/usr/include/$(MULTIARCH)/openblas-openmp $(SAN)

BLASDIR ?= /usr/lib/$(MULTIARCH)/openblas-openmp
LDLIBS  = -L$(BLASDIR) -Wl,-rpath,$(BLASDIR) -lopenblas -lcjson -lpcre2-8 -lutf8proc -lsqlite3 -lm -fopenmp $(SAN)
BIN     = $(if $(filter build,$(BUILD)),bin,$(BUILD)/bin)

CORE_SRC  := $(wildcard core/*.c)
CORE_OBJ  := $(CORE_SRC:%.c=$(BUILD)/%.o)
# Each executable is one folder's .c files (its main in r1-NAME.c) over the library.
# (a folder joins the build once its r1-NAME.c exists)
ALL_STAGES := r1-model:tools r1-data:datasets r1-reward:reward r1-rollout:rollout r1-grpo:grpo r1-sft:sft \
             r1-report:report
STAGES    := $(foreach s,$(ALL_STAGES),$(if $(wildcard $(lastword $(subst :, ,$(s)))/r1-*.c),$(s)))
TOOLS     := $(foreach s,$(STAGES),$(BIN)/$(firstword $(subst :, ,$(s))))
TEST_SRC  := $(wildcard tests/test_*.c)
TESTS     := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCHES   := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
LIB       := $(BUILD)/libr1c.a

.SECONDARY:
.PHONY: all test asan test-asan bench deps cuda format clean demo fuzz real-model
all: $(TOOLS) $(TESTS) $(BENCHES)

$(BUILD)/%.o: %.c $(wildcard core/*.h tools/*.h datasets/*.h reward/*.h rollout/*.h grpo/*.h sft/*.h report/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

define stage_rule
$(BIN)/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(2)/*.c)) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$^ -o $$@ $$(LDLIBS)
endef
$(foreach s,$(STAGES),$(eval $(call stage_rule,$(firstword $(subst :, ,$(s))),$(lastword $(subst :, ,$(s))))))

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lcmocka

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

test: all
	R1_BIN=$(abspath $(BIN)) R1_TESTBIN=$(abspath $(BUILD)/tests) tests/run.sh

asan:
	$(MAKE) BUILD=build/asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" all

test-asan: asan
	$(MAKE) BUILD=build/asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

bench: all
	R1_BIN=$(abspath $(BIN)) R1_BENCHBIN=$(abspath $(BUILD)/bench) bench/run.sh

deps:
	scripts/install-deps.sh

# SmolLM2-135M-Instruct (Q4_1 GGUF) into ~/.cache/r1c/smollm2, outside git; prints its path.
real-model:
	scripts/real-model.sh

cuda:
	scripts/build-cuda.sh

FUZZ_SECONDS ?= 60
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)
	scripts/fuzz-mathans.sh $(FUZZ_SECONDS)

format:
	clang-format -i core/*.[ch] $(foreach s,$(STAGES),$(wildcard $(lastword $(subst :, ,$(s)))/*.[ch])) \
	    tests/*.[ch] $(wildcard bench/*.c)

clean:
	rm -rf build bin

demo: all
	pipelines/demo.sh
