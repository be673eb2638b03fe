// SPDX-License-Identifier: GPL-2.0
/*
 * The memory of a queue's event ring, shared with the program that maps
 * the queue.
 *
 * Pages of their own, charged to the caller's memory cgroup, mapped into
 * the program with vm_insert_pages(), as io_uring maps its rings. The
 * kernel writes them through their direct-map addresses (they are never
 * highmem), so freeing them needs no vunmap() and is allowed in any
 * context; no entry straddles two pages (the header and the entries are
 * 128 and 32 bytes, and a page a multiple of both). Each mapping takes its
 * own reference to every page, so a page is never reused while any
 * mapping shows it; and a mapping holds the queue's file, so the ring is
 * freed only after the last mapping is gone.
 */
#include <linux/mm.h>
#include <linux/slab.h>

#include "ring.h"

struct kevent_ring_mem {
	unsigned int nr_pages;
	void **addrs;		/* each page's address, for the producer */
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
	mem->addrs = kcalloc(nr, sizeof(*mem->addrs), GFP_KERNEL_ACCOUNT);
	if (!mem->addrs)
		goto fail;
	mem->nr_pages = nr;
	for (i = 0; i < nr; i++) {
		mem->pages[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!mem->pages[i])
			goto fail_pages;
		mem->addrs[i] = page_address(mem->pages[i]);
	}
	return mem;
fail_pages:
	kevent_ring_mem_put_pages(mem, i);
	kfree(mem->addrs);
fail:
	kfree(mem);
	return NULL;
}

/* Any context. */
void kevent_ring_mem_free(struct kevent_ring_mem *mem)
{
	kevent_ring_mem_put_pages(mem, mem->nr_pages);
	kfree(mem->addrs);
	kfree(mem);
}

/* The address of each page, nr_pages of them. */
void **kevent_ring_mem_addrs(struct kevent_ring_mem *mem)
{
	return mem->addrs;
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
