/* mps2.ld.S: the memory of QEMU's MPS2 boards (mps2-an385, mps2-an386),
 * preprocessed by run.sh with cpp -P. Code and constants go to the 4 MB
 * SSRAM at 0 (the part that stands for flash); data, bss and the stack
 * to the 4 MB SSRAM at 0x20000000. With -DWEIGHTS_IN_PSRAM the model's
 * constants (.rodata) go to the 16 MB PSRAM at 0x21000000 instead, for
 * models whose weights do not fit in 4 MB; mps2-an500 (the M7) has its
 * PSRAM at 0x60000000 (-DPSRAM_ORIGIN=0x60000000). */
#ifndef PSRAM_ORIGIN
#define PSRAM_ORIGIN 0x21000000 /* mps2-an385, mps2-an386 */
#endif
MEMORY
{
  FLASH (rx)  : ORIGIN = 0x00000000, LENGTH = 4M
  RAM   (rwx) : ORIGIN = 0x20000000, LENGTH = 4M
  PSRAM (rx)  : ORIGIN = PSRAM_ORIGIN, LENGTH = 16M
}
#ifdef WEIGHTS_IN_PSRAM
#define WEIGHTS PSRAM
#else
#define WEIGHTS FLASH
#endif

ENTRY(reset)
_estack = ORIGIN(RAM) + LENGTH(RAM);

SECTIONS
{
  .text : {
    KEEP(*(.vectors))
    *(.text .text.*)
  } > FLASH
  .ARM.exidx : { *(.ARM.exidx*) } > FLASH
  .rodata : { *(.rodata .rodata.*) } > WEIGHTS
  .data : {
    . = ALIGN(4);
    _sdata = .;
    *(.data .data.*)
    . = ALIGN(4);
    _edata = .;
  } > RAM AT > FLASH
  _sidata = LOADADDR(.data);
  .bss (NOLOAD) : {
    . = ALIGN(4);
    _sbss = .;
    *(.bss .bss.* COMMON)
    . = ALIGN(4);
    _ebss = .;
  } > RAM
  /* At least 64 KB left for the stack. */
  ASSERT(_ebss + 0x10000 <= _estack, "mps2.ld: no room left for the stack")
}
