/* tok_hfnfc.h - code points Hugging Face's NFC does not know.
 *
 * `tokenizers` normalizes with the unicode-normalization-alignments crate, whose
 * tables are older than utf8proc's (Unicode 15): marks that later versions gave
 * a combining class, and compositions added later, are inert there: class 0, no
 * decomposition, composing with nothing. To give the same ids, r1c's NFC leaves
 * these code points exactly as they are and normalizes the text around them
 * separately (core/tok_encode.c). The table is measured against `tokenizers`
 * by tests/ref/gen_hf_nfc_table.py, which also checks the committed one. */
#ifndef R1_TOK_HFNFC_H
#define R1_TOK_HFNFC_H

/* 1 if Hugging Face's NFC treats cp as an unknown character. */
int r1_hf_nfc_inert(unsigned cp);

#endif
