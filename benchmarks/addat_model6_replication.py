"""cProfile of one Table 3 Model 6 replication (the committed JSON's setting); argv[1]: label, argv[2]: 'old' for the scatter-add graphs."""
import cProfile, pstats, sys, time, resource, warnings, json, os
warnings.filterwarnings("ignore")
import bayesmix as bm
from bayesmix.latent import LatentEffects, segments
if len(sys.argv) > 2 and sys.argv[2] == "old":
    segments.PAD_LIMIT = 0
    LatentEffects.unit_values = lambda self, z=None: (lambda u: u if self.level_index is None else u[..., self.level_index, :])(self.values(z))
label = sys.argv[1]
reps = int(os.environ.get("REPS", "1"))
pr = cProfile.Profile()
c0, w0 = time.process_time(), time.perf_counter()
pr.enable()
study = bm.montecarlo("table3_model6", replications=reps, seed=0, scheduler="serial", starts="population",
                      start_values={"random_sd[class1]": 10})
pr.disable()
cpu, wall = time.process_time() - c0, time.perf_counter() - w0
print("cpu_s", cpu, "wall_s", wall, "load", os.getloadavg())
print(study.replications[["loglik", "seconds"]])
os.makedirs("_logs", exist_ok=True)
pr.dump_stats(f"_logs/mc_prof_{label}.pstats")
st = pstats.Stats(pr)
st.sort_stats("tottime").print_stats(25)
st.print_callers("ufunc.*at|perform")
