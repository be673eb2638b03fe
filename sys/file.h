/* SPDX-License-Identifier: GPL-2.0 */
/* The file helpers of sys/file.c, called from sys/file.rs. */
#ifndef KEVENT_SYS_FILE_H
#define KEVENT_SYS_FILE_H

#include <linux/fs.h>

long kevent_file_count(struct file *file);
bool kevent_file_is_epoll(struct file *file);

#endif
