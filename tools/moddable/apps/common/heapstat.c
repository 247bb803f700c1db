/*
 * heapstat: the XS heap in use, read straight from the machine: the fields the SDK's
 * instrumentation reports as "XS Slot/Chunk Heap Used", plus the high-water marks it does not. heapstat(0) collects garbage first. Values in bytes:
 * 0 slots in use (after a GC), 1 chunks in use, 2 slots high-water, 3 chunks high-water.
 * heapstat(4) resets both high-water marks to the current use.
 */
#include "xsAll.h"

void xs_heapstat(txMachine *the)
{
	txInteger which = fxToInteger(the, mxArgv(0));
	txInteger value = 0;
	if (which == 0) fxCollectGarbage(the);
	switch (which) {
	case 0: value = (txInteger)(the->currentHeapCount * sizeof(txSlot)); break;
	case 1: value = (txInteger)the->currentChunksSize; break;
	case 2: value = (txInteger)(the->peakHeapCount * sizeof(txSlot)); break;
	case 3: value = (txInteger)the->peakChunksSize; break;
	case 4: the->peakHeapCount = the->currentHeapCount; the->peakChunksSize = the->currentChunksSize; break;
	}
	mxResult->kind = XS_INTEGER_KIND;
	mxResult->value.integer = value;
}
