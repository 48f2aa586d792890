#include "textflag.h"

// BYTES16 defines sym as 16 copies of one byte (v: the byte 8 times).
#define BYTES16(sym, v) \
	DATA sym+0(SB)/8, v \
	DATA sym+8(SB)/8, v \
	GLOBL sym(SB), RODATA|NOPTR, $16

BYTES16(c20<>, $0x2020202020202020)
BYTES16(c60<>, $0x6060606060606060)
BYTES16(c7a<>, $0x7a7a7a7a7a7a7a7a)
BYTES16(c2f<>, $0x2f2f2f2f2f2f2f2f)
BYTES16(c39<>, $0x3939393939393939)
BYTES16(camp<>, $0x2626262626262626)
BYTES16(clt<>, $0x3c3c3c3c3c3c3c3c)
BYTES16(ccolon<>, $0x3a3a3a3a3a3a3a3a)
BYTES16(cdot<>, $0x2e2e2e2e2e2e2e2e)

// CHUNK classifies the 16 bytes at off(SI) into bits off..off+15 of R11
// (letters), R12 (digits) and R13 (special bytes), and ORs their high
// bits into R10. Signed compares: a byte >= 0x80 is neither letter nor
// digit.
#define CHUNK(off) \
	MOVOU    off(SI), X0 \
	PMOVMSKB X0, AX \
	ORQ      AX, R10 \
	MOVO     X0, X1 \
	POR      X5, X1 \
	MOVO     X1, X2 \
	PCMPGTB  X6, X2 \
	PCMPGTB  X7, X1 \
	PANDN    X2, X1 \
	PMOVMSKB X1, AX \
	SHLQ     $off, AX \
	ORQ      AX, R11 \
	MOVO     X0, X2 \
	PCMPGTB  X8, X2 \
	MOVO     X0, X3 \
	PCMPGTB  X9, X3 \
	PANDN    X2, X3 \
	PMOVMSKB X3, AX \
	SHLQ     $off, AX \
	ORQ      AX, R12 \
	MOVO     X0, X1 \
	PCMPEQB  X10, X1 \
	MOVO     X0, X2 \
	PCMPEQB  X11, X2 \
	POR      X2, X1 \
	MOVO     X0, X2 \
	PCMPEQB  X12, X2 \
	POR      X2, X1 \
	PCMPEQB  X13, X0 \
	POR      X0, X1 \
	PMOVMSKB X1, AX \
	SHLQ     $off, AX \
	ORQ      AX, R13

// func classifyBlocks(pad []byte, letter, digit, special []uint64) bool
TEXT ·classifyBlocks(SB), NOSPLIT, $0-97
	MOVQ pad_base+0(FP), SI
	MOVQ letter_base+24(FP), DI
	MOVQ letter_len+32(FP), CX
	MOVQ digit_base+48(FP), R8
	MOVQ special_base+72(FP), R9
	MOVOU c20<>(SB), X5
	MOVOU c60<>(SB), X6
	MOVOU c7a<>(SB), X7
	MOVOU c2f<>(SB), X8
	MOVOU c39<>(SB), X9
	MOVOU camp<>(SB), X10
	MOVOU clt<>(SB), X11
	MOVOU ccolon<>(SB), X12
	MOVOU cdot<>(SB), X13
	XORQ  R10, R10
	TESTQ CX, CX
	JZ    done

block:
	XORQ R11, R11
	XORQ R12, R12
	XORQ R13, R13
	CHUNK(0)
	CHUNK(16)
	CHUNK(32)
	CHUNK(48)
	MOVQ R11, (DI)
	MOVQ R12, (R8)
	MOVQ R13, (R9)
	ADDQ $64, SI
	ADDQ $8, DI
	ADDQ $8, R8
	ADDQ $8, R9
	DECQ CX
	JNZ  block

done:
	TESTQ R10, R10
	SETNE ret+96(FP)
	RET
