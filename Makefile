# r1c - build, test and benchmark.
#   make            library + bin/ executables (warnings are errors)
#   make test       every test (C unit tests, then PyTorch/Python reference tests)
#   make asan       the same executables and tests with AddressSanitizer + UBSan, in build/asan
#   make test-asan  the test suite against the sanitizer build
#   make bench      benchmarks, each next to its reference
#   make deps       install what a fresh Debian machine lacks (scripts/install-deps.sh)
#   make real-model fetch the real pretrained model the GGUF tests use (scripts/real-model.sh)
#   make cuda       compile the CUDA backend, its tests and benchmarks (when nvcc exists)
#   make test-cuda  the GPU against the CPU path (needs an NVIDIA GPU; CUDA=0 builds without nvcc)
#   make bench-cuda GPU decoding and training next to PyTorch + transformers (needs a GPU)
#   make fuzz       libFuzzer on the tokenizer's encoder and the answer parsers (FUZZ_SECONDS=60 each)
#   make format     clang-format every C source in place

CC      ?= cc
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
BUILD   ?= build
OPT     ?= -O2
SAN     ?=
ARCHFLAGS ?= -march=x86-64-v3
CFLAGS  = -std=c11 $(OPT) -g $(ARCHFLAGS) -Wall -Wextra -Werror -fopenmp -D_DEFAULT_SOURCE -Icore -Itools -Idatasets -Ireward -Irollout -Igrpo -Isft -Itests -I/usr/include/$(MULTIARCH)/openblas-openmp $(SAN)

# MPI (Open MPI from Debian, or any MPI with mpicc): linked when mpicc exists (MPI=0: never).
# The executables then run under mpirun -np N as N data-parallel ranks (core/dist.h); a
# plain run never calls MPI_Init.
MPICC   ?= $(shell command -v mpicc 2>/dev/null)
MPI     ?= $(if $(MPICC),1,0)
ifeq ($(MPI),1)
CFLAGS  += -DR1_MPI $(shell $(MPICC) --showme:compile)
MPI_LIBS = $(shell $(MPICC) --showme:link)
endif

BLASDIR ?= /usr/lib/$(MULTIARCH)/openblas-openmp
# -rdynamic: libr1c_cuda.so, opened at run time, uses a few of the library's functions.
LDLIBS  = -L$(BLASDIR) -Wl,-rpath,$(BLASDIR) -lopenblas -lcjson -lpcre2-8 -lutf8proc -lsqlite3 -lm -fopenmp -ldl -lpthread -rdynamic $(MPI_LIBS) $(SAN)
BIN     = $(if $(filter build,$(BUILD)),bin,$(BUILD)/bin)

CORE_SRC  := $(wildcard core/*.c)
CORE_OBJ  := $(CORE_SRC:%.c=$(BUILD)/%.o)

# The CUDA backend (cuda/*.cu) is a shared library, $(BIN)/libr1c_cuda.so, built when
# nvcc exists (CUDA=0: never) and opened by core/gpu_load.c the first time a program
# asks for --device cuda, so the CPU paths never load CUDA's libraries.
NVCC      ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))
CUDA      ?= $(if $(NVCC),1,0)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_ARCH ?= -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=compute_80
NVCCFLAGS  = -O2 -g -std=c++17 -Werror all-warnings -Xcompiler -Wall,-Wextra,-fPIC $(CUDA_ARCH) -Icore -Icuda
LDLIBS_CUDA = -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lnccl -lcudart -lstdc++
ifeq ($(CUDA),1)
GPU_OBJ   := $(patsubst %.cu,$(BUILD)/%.o,$(wildcard cuda/*.cu))
CUDA_LIB  := $(BIN)/libr1c_cuda.so
# GPU tests and benchmarks: compiled with everything else (so CI compiles them),
# run only by make test-cuda / make bench-cuda on a machine with a GPU.
CUDA_BINS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/cuda/test_*.c bench/cuda/bench_*.c)) \
             $(patsubst %.cu,$(BUILD)/%,$(wildcard tests/cuda/test_*.cu))
endif
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
.PHONY: all test asan test-asan bench deps cuda test-cuda bench-cuda format clean demo fuzz real-model \
	r1-real
all: $(TOOLS) $(TESTS) $(BENCHES) $(CUDA_LIB) $(CUDA_BINS)

$(BUILD)/%.o: %.c $(wildcard core/*.h tools/*.h datasets/*.h reward/*.h rollout/*.h grpo/*.h sft/*.h report/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/cuda/%.o: cuda/%.cu $(wildcard cuda/*.h core/*.h)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(BUILD)/core/gpu_load.o: CFLAGS += -DR1_CUDA_LIB_DIR='"$(abspath $(BIN))"'

$(CUDA_LIB): $(GPU_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) -shared -Wl,-Bsymbolic -Wl,-soname,libr1c_cuda.so $^ -o $@ $(LDLIBS_CUDA)

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

$(BUILD)/tests/cuda/%.o: tests/cuda/%.cu $(wildcard cuda/*.h core/*.h)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

# The GPU tests and benchmark call CUDA (and test_cuda_ops the kernels) directly.
$(BUILD)/tests/cuda/%: $(BUILD)/tests/cuda/%.o $(LIB) $(CUDA_LIB)
	$(CC) $(CFLAGS) $^ -o $@ -Wl,-rpath,$(abspath $(BIN)) $(LDLIBS) $(LDLIBS_CUDA)

$(BUILD)/bench/cuda/%.o: CFLAGS += -I$(CUDA_HOME)/include

$(BUILD)/bench/cuda/%: $(BUILD)/bench/cuda/%.o $(LIB) $(CUDA_LIB)
	$(CC) $(CFLAGS) $^ -o $@ -Wl,-rpath,$(abspath $(BIN)) $(LDLIBS) $(LDLIBS_CUDA)

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
ifeq ($(CUDA),1)
	$(MAKE) $(CUDA_LIB) $(CUDA_BINS)
else
	@echo "make cuda: nvcc not found (or CUDA=0): this build has no CUDA backend"
endif

# On a machine with an NVIDIA GPU: the GPU against the CPU path, and the GPU
# benchmarks next to PyTorch + transformers.
test-cuda: all
	R1_BIN=$(abspath $(BIN)) R1_TESTBIN=$(abspath $(BUILD)/tests) tests/cuda/run.sh

bench-cuda: all
	R1_BIN=$(abspath $(BIN)) R1_BENCHBIN=$(abspath $(BUILD)/bench) bench/cuda/run.sh

FUZZ_SECONDS ?= 60
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)
	scripts/fuzz-mathans.sh $(FUZZ_SECONDS)

format:
	clang-format -i core/*.[ch] $(foreach s,$(STAGES),$(wildcard $(lastword $(subst :, ,$(s)))/*.[ch])) \
	    tests/*.[ch] $(wildcard bench/*.c) cuda/*.[ch] $(wildcard cuda/*.cu tests/cuda/*.c tests/cuda/*.cu bench/cuda/*.c)

clean:
	rm -rf build bin

demo: all
	pipelines/demo.sh

# The R1 recipe on the real SmolLM2-135M-Instruct (about an hour on 2 cores).
r1-real: all
	pipelines/r1-real.sh
