/* wsplan.c: placing tensors of known lifetimes in one workspace, the two
 * published placements of "offset calculation" for DNN memory planning
 * (Pisarchyk and Lee, "Efficient Memory Management for Deep Neural Net
 * Inference", 2020):
 *   - greedy by size: the largest tensor first, each at the lowest offset
 *     where it overlaps no tensor already placed that is alive at a
 *     common step;
 *   - first fit in execution order: the same rule, tensors taken in the
 *     order they are written.
 * Neither is always best, so ws_place runs both (and two more orders:
 * the longest-lived first, the largest bytes x steps first), each refined
 * by moving an item that reaches the top to the front of the order and
 * placing again, and keeps the smallest workspace; it stops early at
 * ws_bound, the largest total of tensors alive at one step, which no
 * placement can beat; `modelc check` prints it beside the
 * workspace. Reads no model: the unit tests give it small hand graphs. */
#include "modelc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int alive_together(const WsItem *a, const WsItem *b) {
  return a->first <= b->last && b->first <= a->last;
}

int64_t ws_bound(const WsItem *t, int n) {
  int steps = 0;
  for (int i = 0; i < n; i++)
    if (t[i].last + 1 > steps) steps = t[i].last + 1;
  int64_t best = 0;
  for (int s = 0; s < steps; s++) {
    int64_t live = 0;
    for (int i = 0; i < n; i++)
      if (t[i].first <= s && s <= t[i].last) live = mc_satadd(live, t[i].bytes);
    if (live > best) best = live;
  }
  return best;
}

/* Place the items in the order given by `order`; returns the workspace. */
static int64_t place_in_order(WsItem *t, const int *order, int n) {
  int *placed = mc_alloc(sizeof(int) * (size_t)(n + 1));
  int *near = mc_alloc(sizeof(int) * (size_t)(n + 1));
  int nplaced = 0;
  int64_t total = 0;
  for (int k = 0; k < n; k++) {
    WsItem *it = &t[order[k]];
    /* the placed items alive with it, by offset */
    int nnear = 0;
    for (int j = 0; j < nplaced; j++) {
      const WsItem *o = &t[placed[j]];
      if (!alive_together(it, o)) continue;
      int at = nnear++;
      while (at > 0 && t[near[at - 1]].off > o->off) {
        near[at] = near[at - 1];
        at--;
      }
      near[at] = placed[j];
    }
    int64_t off = 0;
    for (int j = 0; j < nnear; j++) {
      const WsItem *o = &t[near[j]];
      if (mc_satadd(off, it->bytes) <= o->off) break; /* fits in the gap */
      int64_t end = mc_satadd(o->off, o->bytes);
      if (end > off) off = end;
    }
    it->off = off;
    placed[nplaced++] = order[k];
    int64_t end = mc_satadd(off, it->bytes);
    if (end > total) total = end;
  }
  free(near);
  free(placed);
  return total;
}

static const WsItem *sort_items;

static int by_size(const void *a, const void *b) {
  const WsItem *x = &sort_items[*(const int *)a];
  const WsItem *y = &sort_items[*(const int *)b];
  if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
  if (x->first != y->first) return x->first < y->first ? -1 : 1;
  return *(const int *)a - *(const int *)b;
}

static int by_first(const void *a, const void *b) {
  const WsItem *x = &sort_items[*(const int *)a];
  const WsItem *y = &sort_items[*(const int *)b];
  if (x->first != y->first) return x->first < y->first ? -1 : 1;
  if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
  return *(const int *)a - *(const int *)b;
}

/* Extra orders tried by ws_place: the longest-lived first (by size on a
 * tie), and the largest area (bytes times steps) first. */
static int by_life(const void *a, const void *b) {
  const WsItem *x = &sort_items[*(const int *)a];
  const WsItem *y = &sort_items[*(const int *)b];
  int lx = x->last - x->first, ly = y->last - y->first;
  if (lx != ly) return lx < ly ? 1 : -1;
  return by_size(a, b);
}

static int by_area(const void *a, const void *b) {
  const WsItem *x = &sort_items[*(const int *)a];
  const WsItem *y = &sort_items[*(const int *)b];
  int64_t ax = x->bytes * (x->last - x->first + 1);
  int64_t ay = y->bytes * (y->last - y->first + 1);
  if (ax != ay) return ax < ay ? 1 : -1;
  return by_size(a, b);
}

static int *sorted_order(const WsItem *t, int n,
                         int (*cmp)(const void *, const void *)) {
  int *order = mc_alloc(sizeof(int) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) order[i] = i;
  sort_items = t;
  qsort(order, (size_t)n, sizeof *order, cmp);
  sort_items = NULL;
  return order;
}

static int64_t place_sorted(WsItem *t, int n,
                            int (*cmp)(const void *, const void *)) {
  int *order = sorted_order(t, n, cmp);
  int64_t total = place_in_order(t, order, n);
  free(order);
  return total;
}

int64_t ws_by_size(WsItem *t, int n) { return place_sorted(t, n, by_size); }

int64_t ws_first_fit(WsItem *t, int n) {
  return place_sorted(t, n, by_first);
}

/* Starting from an order, move an item that reaches the top of the
 * workspace to the front and place again, a bounded number of times:
 * the item placed first takes the bottom, and the others arrange around
 * it. Keeps the best offsets in best_off; returns the best total. */
static int64_t refine(WsItem *t, int n, int *order, int64_t best,
                      int64_t *best_off) {
  int rounds = n < 64 ? 2 * n : 128;
  for (int r = 0; r < rounds; r++) {
    int64_t total = place_in_order(t, order, n);
    if (total < best) {
      best = total;
      for (int i = 0; i < n; i++) best_off[i] = t[i].off;
    }
    int top = -1; /* the last in the order of those reaching the top */
    for (int k = 0; k < n; k++)
      if (t[order[k]].off + t[order[k]].bytes == total) top = k;
    if (top <= 0) break;
    int item = order[top];
    memmove(order + 1, order, sizeof(int) * (size_t)top);
    order[0] = item;
  }
  return best;
}

int64_t ws_place(WsItem *t, int n) {
  int (*const orders[])(const void *, const void *) = {by_size, by_first,
                                                       by_life, by_area};
  int64_t *offs = mc_alloc(sizeof(int64_t) * (size_t)(n + 1));
  int64_t best = INT64_MAX, bound = ws_bound(t, n);
  for (size_t k = 0; k < sizeof orders / sizeof orders[0] && best > bound;
       k++) {
    int *order = sorted_order(t, n, orders[k]);
    best = refine(t, n, order, best, offs);
    free(order);
  }
  for (int i = 0; i < n; i++) t[i].off = offs[i];
  free(offs);
  return n ? best : 0;
}
