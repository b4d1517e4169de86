#ifndef C_MALLOC_COUNTER_H
#define C_MALLOC_COUNTER_H

/// Heap allocations (malloc, calloc, realloc, aligned allocations) made so far by the calling
/// thread. Counted by wrappers around glibc's allocator that this module defines; a thread-local
/// counter, so counting costs no atomic and other threads do not disturb a measurement.
unsigned long long malloc_counter_thread_allocations(void);

#endif
