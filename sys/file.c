// SPDX-License-Identifier: GPL-2.0
/*
 * What sys/file.rs asks of a struct file whose fields moved between Linux
 * 6.12 and 7.2 (the count became a file_ref_t in 6.13, and f_path went
 * into a union): the C accessors are the same in both.
 */
#include <linux/dcache.h>
#include <linux/fs.h>
#include <linux/string.h>

#include "file.h"

long kevent_file_count(struct file *file)
{
	return file_count(file);
}

/*
 * epoll's file operations are not exported, so an epoll instance is
 * recognised by the name of its anonymous inode's dentry, which is fixed
 * (and an anonymous inode's file is never renamed).
 */
bool kevent_file_is_epoll(struct file *file)
{
	static const char name[] = "[eventpoll]";
	const struct qstr *d_name = &file->f_path.dentry->d_name;

	return d_name->len == sizeof(name) - 1 && !memcmp(d_name->name, name, d_name->len);
}
