import time, os, numpy as np, pytensor, pytensor.tensor as pt
MODE = os.environ.get("ABMODE", "CVM")
rng = np.random.default_rng(0)
Q, N, J, D = 900, 1000, 100, 2
n = N // J
idx_sorted = np.repeat(np.arange(J), n)
idx_shuf = rng.permutation(idx_sorted)

def timeit(f, *a, reps=20):
    f(*a)
    t = time.process_time()
    for _ in range(reps):
        f(*a)
    return (time.process_time() - t) / reps * 1e3

def seg_old(v, idx):
    moved = pt.moveaxis(v, -1, 0)
    tot = pt.inc_subtensor(pt.zeros((J, *moved.shape[1:]))[idx], moved)
    return pt.moveaxis(tot, 0, -1)

def slots_of(idx):
    order = np.argsort(idx, kind="stable")
    counts = np.bincount(idx, minlength=J)
    nmax = counts.max()
    rank = np.empty(N, int)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank[order] = np.arange(N) - starts[idx[order]]
    return idx * nmax + rank, nmax

def seg_first(v, idx):
    slots, nmax = slots_of(idx)
    moved = pt.moveaxis(v, -1, 0)
    tot = pt.set_subtensor(pt.zeros((J * nmax, *moved.shape[1:]))[slots], moved)
    tot = tot.reshape((J, nmax, *moved.shape[1:])).sum(1)
    return pt.moveaxis(tot, 0, -1)

def seg_last(v, idx):
    slots, nmax = slots_of(idx)
    tot = pt.set_subtensor(pt.zeros((*v.shape[:-1], J * nmax))[..., slots], v)
    return tot.reshape((*v.shape[:-1], J, nmax)).sum(-1)

def seg_reshape(v, idx):
    return v.reshape((*v.shape[:-1], J, n)).sum(-1)

x = pt.matrix("x")
W = rng.normal(size=(Q, J))
xv = rng.normal(size=(Q, N))
for name, f in [("old", seg_old), ("first", seg_first), ("last", seg_last), ("reshape", seg_reshape)]:
    for iname, idx in [("sorted", idx_sorted), ("shuf", idx_shuf)]:
        if name == "reshape" and iname == "shuf":
            continue
        out = f(x, idx)
        val = (out * W).sum()
        g = pytensor.grad(val, x)
        fn = pytensor.function([x], [out, g], mode=MODE)
        o, gg = fn(xv)
        ref = np.zeros((Q, J)); np.add.at(ref.T, idx, xv.T)
        print(f"seg {name:8s} {iname:6s} {timeit(fn, xv):8.2f} ms  err {abs(o-ref).max():.1e} gerr {abs(gg-W[:, idx]).max():.1e}", flush=True)

u = pt.tensor3("u")
uv = rng.normal(size=(Q, J, D))
Wg = rng.normal(size=(Q, N, D))
def g_old(u, idx): return u[..., idx, :]
def g_first(u, idx): return pt.moveaxis(pt.moveaxis(u, -2, 0)[idx], 0, -2)
def g_reshape(u, idx): return pt.broadcast_to(u[..., :, None, :], (u.shape[0], J, n, D)).reshape((u.shape[0], N, D))
for name, f in [("old", g_old), ("first", g_first), ("reshape", g_reshape)]:
    out = f(u, idx_sorted)
    g = pytensor.grad((out * Wg).sum(), u)
    fn = pytensor.function([u], [out, g], mode=MODE)
    o, gg = fn(uv)
    print(f"gather {name:8s} {timeit(fn, uv):8.2f} ms  err {abs(o-uv[:, idx_sorted]).max():.1e}", flush=True)
idx = idx_shuf
def g_pad(u, idx):
    slots, nmax = slots_of(idx)
    grid = pt.broadcast_to(u[..., :, None, :], (u.shape[0], J, nmax, D)).reshape((u.shape[0], J * nmax, D))
    return grid[:, slots, :]
for name, f in [("old", g_old), ("first", g_first), ("pad", g_pad)]:
    out = f(u, idx)
    g = pytensor.grad((out * Wg).sum(), u)
    fn = pytensor.function([u], [out, g], mode=MODE)
    o, gg = fn(uv)
    print(f"gather-shuf {name:8s} {timeit(fn, uv):8.2f} ms  err {abs(o-uv[:, idx]).max():.1e}", flush=True)
