/*
 * arena.c: chained-block bump allocator (see core.h).
 *
 * Blocks are 16 KiB until the arena holds ARENA_LARGE_AFTER bytes; after that they are 2 MiB
 * (or a multiple), mapped on a 2 MiB boundary and marked for transparent huge pages on Linux.
 * Large arenas are the stores read at random on every decision (an entity store of 100,000
 * entities is about 60 MB): with 4 KiB pages nearly every entity touched costs a TLB miss and
 * a page walk besides its cache miss; one 2 MiB page covers 3,500 entities. An arena that was
 * reset (a per-request or per-item scratch arena) keeps to malloc'd blocks: mapping, faulting in
 * and unmapping 2 MiB on every cycle would cost more than it saves.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

#if defined(__linux__)
#include <sys/mman.h>
#if defined(MADV_HUGEPAGE)
#define ARENA_HUGE 1
#endif
#endif

#define ARENA_BLOCK 16384u
#define ARENA_ALIGN 16u
#define ARENA_LARGE ((size_t)2 << 20)
#define ARENA_LARGE_AFTER ((size_t)1 << 20)

typedef struct block {
    struct block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    size_t mapped; /* bytes mapped with mmap (a large block), or 0 (from malloc) */
    _Alignas(16) unsigned char data[];
} block;

struct md_arena {
    block *head;  /* current block, allocation happens here */
    block *first; /* kept across md_arena_reset */
    size_t total;
    bool reused; /* reset at least once: a scratch arena, which keeps to malloc'd blocks */
};

static block *block_new(size_t size)
{
    block *b = malloc(sizeof(block) + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    b->mapped = 0;
    return b;
}

md_arena *md_arena_new(void)
{
    md_arena *a = malloc(sizeof(*a));
    if (!a)
        return NULL;
    a->first = a->head = block_new(ARENA_BLOCK);
    a->total = 0;
    a->reused = false;
    if (!a->first) {
        free(a);
        return NULL;
    }
    return a;
}

/* A block of at least size usable bytes, a multiple of ARENA_LARGE in all, starting on an
 * ARENA_LARGE boundary so that the kernel can back it with huge pages. Falls back to malloc. */
static block *block_new_large(size_t size)
{
#ifdef ARENA_HUGE
    if (size <= SIZE_MAX - sizeof(block) - 2 * ARENA_LARGE) {
        size_t len = (sizeof(block) + size + ARENA_LARGE - 1) & ~(ARENA_LARGE - 1);
        char *m = mmap(NULL, len + ARENA_LARGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (m != MAP_FAILED) {
            size_t head = (ARENA_LARGE - (uintptr_t)m % ARENA_LARGE) % ARENA_LARGE;
            if (head)
                munmap(m, head);
            if (ARENA_LARGE - head)
                munmap(m + head + len, ARENA_LARGE - head);
            block *b = (block *)(void *)(m + head);
            (void)madvise(b, len, MADV_HUGEPAGE); /* advice only: a kernel without THP ignores it */
            b->next = NULL;
            b->size = len - sizeof(block);
            b->used = 0;
            b->mapped = len;
            return b;
        }
    }
#endif
    /* No mapping: at least a whole large block, so later allocations fill it. */
    return block_new(size > ARENA_LARGE - sizeof(block) ? size : ARENA_LARGE - sizeof(block));
}

static void block_free(block *b)
{
#ifdef ARENA_HUGE
    if (b->mapped) {
        munmap(b, b->mapped);
        return;
    }
#endif
    free(b);
}

static void free_chain(block *b, block *stop)
{
    while (b && b != stop) {
        block *next = b->next;
        block_free(b);
        b = next;
    }
}

void md_arena_free(md_arena *a)
{
    if (!a)
        return;
    free_chain(a->head, NULL);
    free(a);
}

void md_arena_reset(md_arena *a)
{
    if (!a)
        return;
    /* Blocks are pushed at the head, so the first block is the tail of the chain. */
    free_chain(a->head, a->first);
    a->head = a->first;
    a->first->used = 0;
    a->first->next = NULL;
    a->total = 0;
    a->reused = true;
}

void *md_arena_alloc(md_arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n)
        return NULL;
    block *b = a->head;
    if (b->size - b->used < need) {
        /* New blocks go in front; the first block stays at the tail for md_arena_reset. */
        block *nb = a->total >= ARENA_LARGE_AFTER && !a->reused ? block_new_large(need)
                    : need > ARENA_BLOCK / 4                    ? block_new(need)
                                                                : block_new(ARENA_BLOCK);
        if (!nb)
            return NULL;
        nb->next = b;
        a->head = b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->total += need;
    memset(p, 0, need);
    return p;
}

void *md_arena_array(md_arena *a, size_t n, size_t sz)
{
    if (sz && n > SIZE_MAX / sz)
        return NULL;
    return md_arena_alloc(a, n * sz);
}

char *md_arena_strndup(md_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = md_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

md_str md_arena_str(md_arena *a, md_str s)
{
    char *p = md_arena_strndup(a, s.ptr, s.len);
    return (md_str){p, p ? s.len : 0};
}

char *md_arena_printf(md_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = md_arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

size_t md_arena_used(const md_arena *a)
{
    return a ? a->total : 0;
}
