/* cmds.h - subcommands of bin/r1-model that live in their own files. */
#ifndef R1_CMDS_H
#define R1_CMDS_H

/* r1-model tokenize ...: argv[0] is "tokenize". Returns the exit status. */
int cmd_tokenize(int argc, char **argv);
/* r1-model train-tokenizer ...: argv[0] is "train-tokenizer". */
int cmd_train_tokenizer(int argc, char **argv);

/* r1-model generate ...: stream one completion (argv[0] is "generate"). */
int cmd_generate(int argc, char **argv);
int cmd_gguf_tokenizer(int argc, char **argv);
int cmd_gguf_info(int argc, char **argv);

/* r1-model import-gguf / export-gguf (tools/cmd_gguf.c). */
int cmd_import_gguf(int argc, char **argv);
int cmd_export_gguf(int argc, char **argv);

#endif
