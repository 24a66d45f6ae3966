#!/usr/bin/python3
"""Benign breadth set: real objects of many libraries (Debian python3-* packages only), pickled with protocols
2–5, plus joblib compressions and torch checkpoints. Writes files and manifest.json into the folder given.

    /usr/bin/python3 tools/benign-breadth/generate.py packages/engine/test/benign-breadth
"""
import hashlib, io, json, os, pickle, pickletools, sys, warnings

warnings.simplefilter("ignore")
import numpy as np

OUT = sys.argv[1]
rng = np.random.default_rng(0)
X = rng.normal(size=(40, 4))
y = (X[:, 0] > 0).astype(int)
yr = X @ [1.0, 2.0, 0.0, -1.0]
objects = {}  # name -> (library, made_by, object)


def add(library, name, made_by, build):
    try:
        objects[f"{library}/{name}"] = (library, made_by, build())
    except Exception as e:  # a class missing in this Debian version: left out, said on stderr
        print(f"skipped {library}/{name}: {e}", file=sys.stderr)


def sklearn_objects():
    from sklearn import cluster, decomposition, ensemble, linear_model, naive_bayes, neighbors, pipeline, preprocessing
    from sklearn import svm, tree, feature_extraction, impute, compose
    fit = lambda est, *a: est.fit(*a)
    add("sklearn", "logreg", "LogisticRegression().fit", lambda: fit(linear_model.LogisticRegression(), X, y))
    add("sklearn", "ridge", "Ridge().fit", lambda: fit(linear_model.Ridge(), X, yr))
    add("sklearn", "tree", "DecisionTreeClassifier().fit", lambda: fit(tree.DecisionTreeClassifier(max_depth=3), X, y))
    add("sklearn", "forest", "RandomForestClassifier(5).fit", lambda: fit(ensemble.RandomForestClassifier(5, max_depth=3), X, y))
    add("sklearn", "gbr", "GradientBoostingRegressor(5).fit", lambda: fit(ensemble.GradientBoostingRegressor(n_estimators=5), X, yr))
    add("sklearn", "scaler", "StandardScaler().fit", lambda: fit(preprocessing.StandardScaler(), X))
    add("sklearn", "minmax", "MinMaxScaler().fit", lambda: fit(preprocessing.MinMaxScaler(), X))
    add("sklearn", "onehot", "OneHotEncoder().fit", lambda: fit(preprocessing.OneHotEncoder(), [["a"], ["b"]]))
    add("sklearn", "pca", "PCA(2).fit", lambda: fit(decomposition.PCA(2), X))
    add("sklearn", "kmeans", "KMeans(2).fit", lambda: fit(cluster.KMeans(2, n_init=2), X))
    add("sklearn", "knn", "KNeighborsClassifier().fit (KD/ball tree)", lambda: fit(neighbors.KNeighborsClassifier(3, algorithm="kd_tree"), X, y))
    add("sklearn", "svc", "SVC().fit", lambda: fit(svm.SVC(), X, y))
    add("sklearn", "nb", "GaussianNB().fit", lambda: fit(naive_bayes.GaussianNB(), X, y))
    add("sklearn", "pipeline", "Pipeline(scaler, logreg).fit", lambda: fit(pipeline.make_pipeline(preprocessing.StandardScaler(), linear_model.LogisticRegression()), X, y))
    add("sklearn", "tfidf", "TfidfVectorizer().fit", lambda: fit(feature_extraction.text.TfidfVectorizer(), ["a b c", "b c d"]))
    add("sklearn", "imputer", "SimpleImputer().fit", lambda: fit(impute.SimpleImputer(), X))
    add("sklearn", "coltrans", "ColumnTransformer.fit", lambda: fit(compose.ColumnTransformer([("s", preprocessing.StandardScaler(), [0, 1])]), X))


def scipy_objects():
    from scipy import sparse, spatial, interpolate
    add("scipy", "csr", "sparse.csr_matrix", lambda: sparse.random(20, 20, 0.1, format="csr", random_state=0))
    add("scipy", "csc", "sparse.csc_matrix", lambda: sparse.random(20, 20, 0.1, format="csc", random_state=0))
    add("scipy", "coo", "sparse.coo_matrix", lambda: sparse.random(20, 20, 0.1, format="coo", random_state=0))
    add("scipy", "csr_array", "sparse.csr_array", lambda: sparse.csr_array(np.eye(5)))
    add("scipy", "kdtree", "spatial.KDTree", lambda: spatial.KDTree(X))
    add("scipy", "ckdtree", "spatial.cKDTree", lambda: spatial.cKDTree(X))
    add("scipy", "rotation", "spatial.transform.Rotation", lambda: spatial.transform.Rotation.from_euler("z", 30, degrees=True))
    add("scipy", "interp1d", "interpolate.interp1d", lambda: interpolate.interp1d([0, 1, 2], [0, 1, 4]))


def pandas_objects():
    import pandas as pd
    add("pandas", "frame", "DataFrame", lambda: pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    add("pandas", "categorical", "Categorical", lambda: pd.Categorical(["a", "b", "a"]))
    add("pandas", "interval", "Interval", lambda: pd.Interval(0, 1))
    add("pandas", "period", "Period", lambda: pd.Period("2024-01", freq="M"))
    add("pandas", "na", "NA", lambda: pd.NA)
    add("pandas", "timestamp", "Timestamp", lambda: pd.Timestamp("2024-01-01", tz="UTC"))
    add("pandas", "nullable_int", "array(Int64)", lambda: pd.array([1, None], dtype="Int64"))
    add("pandas", "interval_index", "IntervalIndex", lambda: pd.interval_range(0, 3))
    add("pandas", "multiindex", "MultiIndex", lambda: pd.MultiIndex.from_tuples([(1, "a"), (2, "b")]))
    add("pandas", "sparse", "SparseArray", lambda: pd.arrays.SparseArray([0, 0, 1]))


def other_objects():
    import torch, xgboost, statsmodels.api as sm, networkx as nx, sympy, gensim, nltk, imblearn
    import astropy.units as u, astropy.table, skimage.transform, dill, cloudpickle, joblib
    lin = torch.nn.Linear(4, 2)
    opt = torch.optim.Adam(lin.parameters())
    lin(torch.zeros(1, 4)).sum().backward()
    opt.step()
    add("torch", "linear_state", "nn.Linear.state_dict", lambda: lin.state_dict())
    add("torch", "adam_state", "optim.Adam.state_dict", lambda: opt.state_dict())
    add("torch", "steplr_state", "lr_scheduler.StepLR.state_dict", lambda: torch.optim.lr_scheduler.StepLR(opt, 2).state_dict())
    add("torch", "size", "torch.Size", lambda: torch.Size([2, 3]))
    add("xgboost", "classifier", "XGBClassifier(3).fit", lambda: xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y))
    add("statsmodels", "ols_results", "OLS(...).fit()", lambda: sm.OLS(yr, sm.add_constant(X)).fit())
    add("statsmodels", "logit_results", "Logit(...).fit()", lambda: sm.Logit(y, sm.add_constant(X[:, :1])).fit(disp=0))
    add("networkx", "graph", "karate_club_graph", lambda: nx.karate_club_graph())
    add("networkx", "digraph", "DiGraph", lambda: nx.DiGraph([(1, 2), (2, 3)]))
    add("sympy", "expr", "sympify('x**2 + sin(y)')", lambda: sympy.sympify("x**2 + sin(y)"))
    add("sympy", "matrix", "Matrix", lambda: sympy.Matrix([[1, 2], [3, 4]]))
    add("gensim", "dictionary", "corpora.Dictionary", lambda: gensim.corpora.Dictionary([["a", "b"], ["b", "c"]]))
    add("gensim", "word2vec_kv", "Word2Vec(...).wv (KeyedVectors)", lambda: gensim.models.Word2Vec([["a", "b", "c"]] * 5, vector_size=4, min_count=1, workers=1).wv)
    add("nltk", "freqdist", "FreqDist", lambda: nltk.FreqDist("abracadabra"))
    add("nltk", "tree", "Tree.fromstring", lambda: nltk.Tree.fromstring("(S (NP a) (VP b))"))
    add("imblearn", "smote", "SMOTE().fit_resample", lambda: imblearn.over_sampling.SMOTE(k_neighbors=2).fit(X, y))
    add("imblearn", "rus", "RandomUnderSampler().fit_resample", lambda: imblearn.under_sampling.RandomUnderSampler().fit(X, y))
    add("astropy", "quantity", "Quantity", lambda: 3.0 * u.m / u.s)
    add("astropy", "table", "Table", lambda: astropy.table.Table({"a": [1, 2]}))
    add("skimage", "transform", "AffineTransform", lambda: skimage.transform.AffineTransform(scale=2))
    add("skimage", "similarity", "SimilarityTransform", lambda: skimage.transform.SimilarityTransform(rotation=0.1))
    add("numpy", "array", "ndarray float32", lambda: np.arange(12, dtype=np.float32).reshape(3, 4))
    add("numpy", "structured", "structured ndarray", lambda: np.zeros(3, dtype=[("a", "i4"), ("b", "f8")]))
    add("numpy", "generator", "default_rng", lambda: np.random.default_rng(1))


def write(rel, data, entry):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data)
    entry.update(path=rel, size=len(data), sha256=hashlib.sha256(data).hexdigest(), expected_severity=1,
                 expected_globals=[])
    manifest.append(entry)


def globals_of(data):
    found = []
    try:
        ops = list(pickletools.genops(data))
    except Exception:
        return found
    strings = []
    for op, arg, _ in ops:
        if op.name in ("GLOBAL", "INST"):
            found.append(arg.replace(" ", "."))
        elif "UNICODE" in op.name or "STRING" in op.name:
            strings.append(arg)
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            found.append(f"{strings[-2]}.{strings[-1]}")
    return sorted(set(found))


manifest = []
sklearn_objects(); scipy_objects(); pandas_objects(); other_objects()
import dill, cloudpickle, joblib, torch

for key, (library, made_by, obj) in objects.items():
    for proto in (2, 3, 4, 5):
        data = pickle.dumps(obj, protocol=proto)
        write(f"files/{key}_p{proto}.pkl", data, {"format": "pickle", "library": library, "pickle_protocol": proto,
              "made_by": f"{library}: {made_by} (pickle.dumps, protocol {proto})", "observed_globals": globals_of(data)})
for key in ["sklearn/forest", "sklearn/pipeline", "scipy/csr", "pandas/frame", "xgboost/classifier", "numpy/array"]:
    library, made_by, obj = objects[key]
    for compress in ("zlib", "gzip", "bz2", "xz", "lzma"):
        buf = io.BytesIO()
        joblib.dump(obj, buf, compress=(compress, 3))
        write(f"files/{key}_joblib_{compress}.joblib", buf.getvalue(),
              {"format": "joblib", "library": "joblib", "made_by": f"joblib.dump({made_by}, compress={compress!r})"})
for key in ["numpy/array", "networkx/graph", "pandas/categorical"]:
    library, made_by, obj = objects[key]
    write(f"files/{key}_dill.pkl", dill.dumps(obj), {"format": "pickle", "library": "dill", "made_by": f"dill.dumps({made_by})"})
    write(f"files/{key}_cloudpickle.pkl", cloudpickle.dumps(obj),
          {"format": "pickle", "library": "cloudpickle", "made_by": f"cloudpickle.dumps({made_by})"})
for key in ["torch/linear_state", "torch/adam_state", "torch/steplr_state"]:
    buf = io.BytesIO()
    torch.save(objects[key][2], buf)
    write(f"files/{key}.pt", buf.getvalue(), {"format": "pytorch", "library": "torch", "made_by": f"torch.save({objects[key][1]})"})

versions = {}
for name in ["numpy", "scipy", "sklearn", "pandas", "torch", "xgboost", "statsmodels", "networkx", "sympy", "gensim",
             "nltk", "imblearn", "astropy", "skimage", "dill", "cloudpickle", "joblib"]:
    versions[name] = getattr(sys.modules.get(name), "__version__", None)
with open(os.path.join(OUT, "manifest.json"), "w") as out:
    json.dump({"schema_version": 1, "description": "Benign breadth set: real library output for measuring false "
               "alarms (tools/benign-breadth/generate.py).", "generated_with": {"python": sys.version.split()[0], **versions},
               "files": manifest}, out, indent=1)
print(f"{len(manifest)} files, {len(set(e['library'] for e in manifest))} libraries", file=sys.stderr)
