// SPDX-License-Identifier: GPL-2.0
/*
 * The memory of a queue's event ring, shared with the program that maps
 * the queue.
 *
 * Pages of their own, charged to the caller's memory cgroup, mapped into
 * the kernel with vmap() for the producer and into the program with
 * vm_insert_pages(), as io_uring maps its rings. Each mapping takes its
 * own reference to every page, so a page is never reused while any
 * mapping shows it; and a mapping holds the queue's file, so the ring is
 * freed only after the last mapping is gone.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "ring.h"

struct kevent_ring_mem {
	void *addr;
	unsigned int nr_pages;
	struct page *pages[];
};

static void kevent_ring_mem_put_pages(struct kevent_ring_mem *mem, unsigned int nr)
{
	while (nr--)
		__free_page(mem->pages[nr]);
}

/* Zeroed memory of at least size bytes, or NULL. */
struct kevent_ring_mem *kevent_ring_mem_alloc(size_t size)
{
	unsigned int nr = DIV_ROUND_UP(size, PAGE_SIZE), i;
	struct kevent_ring_mem *mem;

	mem = kzalloc(struct_size(mem, pages, nr), GFP_KERNEL_ACCOUNT);
	if (!mem)
		return NULL;
	mem->nr_pages = nr;
	for (i = 0; i < nr; i++) {
		mem->pages[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!mem->pages[i])
			goto fail;
	}
	mem->addr = vmap(mem->pages, nr, VM_MAP, PAGE_KERNEL);
	if (!mem->addr)
		goto fail;
	return mem;
fail:
	kevent_ring_mem_put_pages(mem, i);
	kfree(mem);
	return NULL;
}

void kevent_ring_mem_free(struct kevent_ring_mem *mem)
{
	vunmap(mem->addr);
	kevent_ring_mem_put_pages(mem, mem->nr_pages);
	kfree(mem);
}

void *kevent_ring_mem_addr(struct kevent_ring_mem *mem)
{
	return mem->addr;
}

/*
 * Maps the ring into vma (mmap, with the mm's lock held for writing):
 * shared, from offset 0, at most the ring's pages. It cannot grow.
 */
int kevent_ring_mem_mmap(struct kevent_ring_mem *mem, struct vm_area_struct *vma)
{
	unsigned long nr = vma_pages(vma);

	/* A private mapping would copy the pages the program writes head to. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_pgoff != 0 || nr > mem->nr_pages)
		return -EINVAL;
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	return vm_insert_pages(vma, vma->vm_start, mem->pages, &nr);
}
