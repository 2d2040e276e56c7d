#!/usr/bin/python3
"""ows_check.py — the checks of test_ows.sh against a running kartenn.

Environment: KT_OWS_BASE (http://127.0.0.1:PORT), KT_OWS_DB (the store
file), KT_OWS_WORK (scratch), KT_SHARED (../shared), KT_LAYERS_DIR.

The reference is read from the store file without kartenn: ogr2ogr
(GDAL's SQLite/SpatiaLite driver) for features, Python's sqlite3 with
mod_spatialite for the filter and privacy queries. Every body the
server sends is kept in WORK/answers and searched at the end for the
private values of the store. Exit status 0 when every check passed.
"""
import glob
import json
import os
import re
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

from lxml import etree

BASE = os.environ["KT_OWS_BASE"]
DB = os.environ["KT_OWS_DB"]
WORK = os.environ["KT_OWS_WORK"]
SPECS = os.path.join(os.environ["KT_SHARED"], "specs", "ogc")
SCHEMAS = os.path.join(SPECS, "schemas.opengis.net")
LAYERS_DIR = os.environ["KT_LAYERS_DIR"]
WFS = BASE + "/wfs"
OAPI = BASE + "/ogcapi"
NS = "https://www.lanester.bzh/kartenn"
GML32 = "http://www.opengis.net/gml/3.2"
GML31 = "http://www.opengis.net/gml"
TOL = 0.001  # metres, store CRS

ANSWERS = os.path.join(WORK, "answers")
os.makedirs(ANSWERS, exist_ok=True)
checks = 0
failures = []


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def save(body):
    path = os.path.join(ANSWERS, "%05d" % len(os.listdir(ANSWERS)))
    with open(path, "wb") as f:
        f.write(body)
    return path


def fetch(url, data=None, ctype=None, headers=None):
    """(status, headers, body) of a GET (or POST with data)."""
    h = dict(headers or {})
    if ctype:
        h["Content-Type"] = ctype
    req = urllib.request.Request(url, data=data, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            status, hdrs, body = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, body = e.code, e.headers, e.read()
    save(body)
    return status, hdrs, body


def wfs_url(**kv):
    return WFS + "?" + urllib.parse.urlencode(kv)


# ---- the catalogue, from layers/*.json ---------------------------------
LAYERS = {}
for path in sorted(glob.glob(os.path.join(LAYERS_DIR, "*.json"))):
    d = json.load(open(path))
    LAYERS[d["name"]] = d
PUBLIC = [n for n, d in LAYERS.items() if d.get("public")]
PRIVATE = [n for n, d in LAYERS.items() if not d.get("public")]


def pub_attrs(layer):
    return [a for a in LAYERS[layer]["attributes"] if a.get("public")]


def has_geom(layer):
    return LAYERS[layer].get("geometry", "NONE") != "NONE"


def published_only(layer):
    return layer.startswith("collab_") and any(a["name"] == "etat" for a in LAYERS[layer]["attributes"])


# ---- the reference: the store read by GDAL -----------------------------
def flat(coords):
    if isinstance(coords, (int, float)):
        return [float(coords)]
    out = []
    for c in coords:
        out += flat(c)
    return out


def norm(v, typ):
    if v is None:
        return None
    if typ == "boolean":
        return bool(v) if not isinstance(v, str) else v.lower() in ("true", "1")
    if typ == "integer":
        return int(v)
    if typ == "real":
        return float(v)
    return str(v)


def reference(layer):
    out = os.path.join(WORK, "ref_%s.json" % layer)
    if not os.path.exists(out):
        subprocess.run(["ogr2ogr", "-f", "GeoJSON", out, DB, layer], check=True,
                       capture_output=True)
    feats = {}
    for f in json.load(open(out))["features"]:
        p = f["properties"]
        if published_only(layer) and p.get("etat") != "published":
            continue
        feats[p["uid"]] = (p, flat(f["geometry"]["coordinates"]) if f.get("geometry") else [])
    return feats


def compare(layer, got, label):
    """got: uid -> (props, coords). Same features, values, coordinates."""
    ref = reference(layer)
    if not check(set(got) == set(ref), "%s %s: %d features, the store has %d (ids differ: %s)"
                 % (label, layer, len(got), len(ref), sorted(set(got) ^ set(ref))[:3])):
        return
    bad_v = bad_c = 0
    for uid, (p, c) in ref.items():
        gp, gc = got[uid]
        for a in pub_attrs(layer):
            rv, gv = norm(p.get(a["name"]), a["type"]), norm(gp.get(a["name"]), a["type"])
            if a["type"] == "real" and rv is not None and gv is not None:
                same = abs(rv - gv) <= 1e-9 * max(1, abs(rv))
            else:
                same = rv == gv
            if not same and bad_v < 3:
                print("  %s %s %s.%s: store %r, got %r" % (label, layer, uid, a["name"], rv, gv))
            bad_v += not same
        for k in gp:
            if k not in ("gml_id", "id", "uid") and not any(a["name"] == k for a in pub_attrs(layer)):
                check(False, "%s %s: property %s is not public" % (label, layer, k))
        if len(c) != len(gc) or any(abs(x - y) > TOL for x, y in zip(c, gc)):
            if bad_c < 3:
                print("  %s %s %s: coordinates differ: %s vs %s" % (label, layer, uid, c[:4], gc[:4]))
            bad_c += 1
    check(bad_v == 0, "%s %s: %d attribute values differ" % (label, layer, bad_v))
    check(bad_c == 0, "%s %s: %d geometries differ by more than 1 mm" % (label, layer, bad_c))


# ---- schema validation -------------------------------------------------
def overlay_catalog():
    """A catalog over the shared one whose Filter 1.1 copy drops the
    circular filterAll.xsd includes that libxml2 cannot compile (the
    schemas themselves are the official ones)."""
    d = os.path.join(WORK, "overlay")
    if not os.path.isdir(d):
        os.makedirs(os.path.join(d, "filter110"))
        for p in glob.glob(os.path.join(SCHEMAS, "filter", "1.1.0", "*.xsd")):
            text = open(p).read().replace('<xsd:include schemaLocation="filterAll.xsd"/>', "")
            open(os.path.join(d, "filter110", os.path.basename(p)), "w").write(text)
        open(os.path.join(d, "catalog.xml"), "w").write(
            '<?xml version="1.0"?>\n<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">'
            '<rewriteSystem systemIdStartString="http://schemas.opengis.net/filter/1.1.0/" '
            'rewritePrefix="filter110/"/><rewriteURI uriStartString="http://schemas.opengis.net/'
            'filter/1.1.0/" rewritePrefix="filter110/"/><nextCatalog catalog="%s"/></catalog>\n'
            % os.path.join(SPECS, "catalog.xml"))
    return os.path.join(d, "catalog.xml")


def validate(body, schema, what, v11=False):
    path = save(body)
    env = dict(os.environ, XML_CATALOG_FILES=overlay_catalog() if v11 else os.path.join(SPECS, "catalog.xml"))
    r = subprocess.run(["xmllint", "--nonet", "--noout", "--schema", schema, path], env=env,
                       capture_output=True, text=True)
    errs = [l for l in r.stderr.splitlines() if "validates" not in l and "Skipping import" not in l]
    return check(r.returncode == 0, "%s does not validate against %s: %s" % (what, os.path.basename(schema), errs[:3]))


def wrapper(dft_body, version):
    """A schema importing the WFS schema and kartenn's DescribeFeatureType."""
    n = version.replace(".", "")
    dft = os.path.join(WORK, "dft%s.xsd" % n)
    open(dft, "wb").write(dft_body)
    wfs_ns, wfs_xsd = (("http://www.opengis.net/wfs/2.0", "http://schemas.opengis.net/wfs/2.0/wfs.xsd")
                       if version == "2.0.0" else
                       ("http://www.opengis.net/wfs", "http://schemas.opengis.net/wfs/1.1.0/wfs.xsd"))
    w = os.path.join(WORK, "wrap%s.xsd" % n)
    open(w, "w").write('<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:w">'
                       '<xsd:import namespace="%s" schemaLocation="%s"/><xsd:import namespace="%s" '
                       'schemaLocation="%s"/></xsd:schema>' % (wfs_ns, wfs_xsd, NS, dft))
    return w


def check_schemas():
    s, _, caps20 = fetch(wfs_url(SERVICE="WFS", REQUEST="GetCapabilities"))
    check(s == 200, "GetCapabilities 2.0.0: status %d" % s)
    validate(caps20, os.path.join(SCHEMAS, "wfs/2.0/wfs.xsd"), "capabilities 2.0.0")
    names = etree.fromstring(caps20).xpath("//wfs:FeatureType/wfs:Name/text()",
                                           namespaces={"wfs": "http://www.opengis.net/wfs/2.0"})
    check(sorted(names) == sorted("kartenn:" + n for n in PUBLIC),
          "capabilities list exactly the public layers: %s" % names)
    s, _, caps11 = fetch(wfs_url(SERVICE="WFS", REQUEST="GetCapabilities", VERSION="1.1.0"))
    validate(caps11, os.path.join(SCHEMAS, "wfs/1.1.0/wfs.xsd"), "capabilities 1.1.0", v11=True)
    all_types = ",".join("kartenn:" + n for n in PUBLIC)
    for version, v11 in (("2.0.0", False), ("1.1.0", True)):
        s, _, dft = fetch(wfs_url(SERVICE="WFS", REQUEST="DescribeFeatureType", VERSION=version))
        check(s == 200, "DescribeFeatureType %s: %d" % (version, s))
        elements = etree.fromstring(dft).xpath("//xsd:complexType/@name",
                                               namespaces={"xsd": "http://www.w3.org/2001/XMLSchema"})
        check(sorted(elements) == sorted(n + "Type" for n in PUBLIC), "DescribeFeatureType %s types" % version)
        w = wrapper(dft, version)
        tn = "TYPENAMES" if version == "2.0.0" else "TYPENAME"
        s, _, gf = fetch(wfs_url(SERVICE="WFS", REQUEST="GetFeature", VERSION=version, **{tn: all_types}))
        check(s == 200, "GetFeature %s of every type: %d" % (version, s))
        validate(gf, w, "GetFeature %s (GML %s) of every public type" % (version, "3.2" if version == "2.0.0" else "3.1.1"), v11=v11)
        s, _, hits = fetch(wfs_url(SERVICE="WFS", REQUEST="GetFeature", VERSION=version, RESULTTYPE="hits", **{tn: "kartenn:batiment"}))
        validate(hits, w, "GetFeature %s hits" % version, v11=v11)
    w = os.path.join(WORK, "wrap200.xsd")
    uid = next(iter(reference("eclairage_support")))
    s, _, one = fetch(wfs_url(SERVICE="WFS", REQUEST="GetFeature", VERSION="2.0.0",
                              STOREDQUERY_ID="urn:ogc:def:query:OGC-WFS::GetFeatureById", ID="eclairage_support." + uid))
    check(s == 200 and etree.fromstring(one).tag == "{%s}eclairage_support" % NS, "GetFeatureById answers the feature itself")
    validate(one, w, "GetFeatureById")
    for req in ("ListStoredQueries", "DescribeStoredQueries"):
        s, _, b = fetch(wfs_url(SERVICE="WFS", REQUEST=req, VERSION="2.0.0"))
        check(s == 200 and b"GetFeatureById" in b, "%s lists GetFeatureById" % req)
        validate(b, os.path.join(SCHEMAS, "wfs/2.0/wfs.xsd"), req)


# ---- GDAL --------------------------------------------------------------
def ogr_read(source, layer, extra=()):
    out = os.path.join(WORK, "ogr_%s_%s.json" % (re.sub(r"\W", "_", source[:30]), layer.replace(":", "_")))
    r = subprocess.run(["ogr2ogr", "-f", "GeoJSON", *extra, out, source, layer], capture_output=True, text=True)
    if not check(r.returncode == 0, "ogr2ogr %s %s: %s" % (source, layer, r.stderr[-300:])):
        return None
    return json.load(open(out))["features"]


def check_gdal():
    for version in ("2.0.0", "1.1.0"):
        for layer in PUBLIC:
            feats = ogr_read("WFS:%s?VERSION=%s" % (WFS, version), "kartenn:" + layer)
            if feats is None:
                continue
            got = {f["properties"]["gml_id"].split(".", 1)[1]:
                   (f["properties"], flat(f["geometry"]["coordinates"]) if f.get("geometry") else [])
                   for f in feats}
            compare(layer, got, "GDAL WFS %s" % version)
    for layer in PUBLIC:
        feats = ogr_read("OAPIF:" + OAPI, layer, ["-t_srs", "EPSG:3948"] if has_geom(layer) else [])
        if feats is None:
            continue
        key = "id"
        by_key = None
        if any(a["name"] == "id" for a in pub_attrs(layer)):
            # the layer's own "id" attribute hides the feature id in GDAL's
            # OAPIF driver: match the features on that attribute instead
            by_key = {p["id"]: uid for uid, (p, _) in reference(layer).items()}
        got = {(by_key.get(f["properties"][key], "?") if by_key else f["properties"][key]):
               (f["properties"], flat(f["geometry"]["coordinates"]) if f.get("geometry") else [])
               for f in feats}
        compare(layer, got, "GDAL OAPIF")


# ---- OWSLib ------------------------------------------------------------
def gml_features(body, gml):
    """uid -> (props, coords) from a GML FeatureCollection."""
    root = etree.fromstring(body)
    out = {}
    for el in root.iter():
        if not isinstance(el.tag, str) or not el.tag.startswith("{%s}" % NS) or el.getparent() is None:
            continue
        if el.getparent().tag not in ("{http://www.opengis.net/wfs/2.0}member", "{%s}featureMember" % GML31):
            continue
        uid = el.get("{%s}id" % gml).split(".", 1)[1]
        props, coords = {}, []
        for c in el:
            name = etree.QName(c).localname
            if name == "geom":
                for t in c.iter("{%s}pos" % gml, "{%s}posList" % gml):
                    coords += [float(x) for x in t.text.split()]
            else:
                props[name] = c.text
        out[uid] = (props, coords)
    return out


def check_owslib():
    from owslib.wfs import WebFeatureService
    for version in ("1.1.0", "2.0.0"):
        wfs = WebFeatureService(WFS, version=version)
        check(sorted(wfs.contents) == sorted("kartenn:" + n for n in PUBLIC),
              "OWSLib %s: the feature types are the public layers" % version)
        gml = GML32 if version == "2.0.0" else GML31
        for name in wfs.contents:
            layer = name.split(":", 1)[1]
            body = wfs.getfeature(typename=[name]).read()
            save(body)
            got = gml_features(body, gml)
            root = etree.fromstring(body)
            n = root.get("numberMatched") or root.get("numberOfFeatures")
            check(n is not None and int(n) == len(got), "OWSLib %s %s: count %s vs %d members" % (version, layer, n, len(got)))
            compare(layer, got, "OWSLib %s" % version)
        if version == "2.0.0":
            ids = [q.id for q in wfs.storedqueries]
            check("urn:ogc:def:query:OGC-WFS::GetFeatureById" in ids, "OWSLib sees GetFeatureById")


# ---- filters, paging, CRS ----------------------------------------------
def spatialite():
    c = sqlite3.connect(DB)
    c.enable_load_extension(True)
    c.load_extension("mod_spatialite")
    return c


def gf_ids(params=None, post=None, version="2.0.0"):
    if post is not None:
        s, _, b = fetch(WFS, post.encode(), "application/xml")
    else:
        p = dict(SERVICE="WFS", REQUEST="GetFeature", VERSION=version)
        p.update(params)
        s, _, b = fetch(wfs_url(**p))
    if s != 200:
        print("  answer %d: %s" % (s, b[:300]))
        return None
    return list(gml_features(b, GML32 if version == "2.0.0" else GML31))


FES = 'xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:gml="http://www.opengis.net/gml/3.2"'


def post_query(layer, filt, extra=""):
    return ('<wfs:GetFeature service="WFS" version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0" '
            'xmlns:kartenn="%s" %s><wfs:Query typeNames="kartenn:%s">%s%s</wfs:Query></wfs:GetFeature>'
            % (NS, FES, layer, filt, extra))


def same_set(got, sql, what, args=()):
    want = [r[0] for r in spatialite().execute(sql, args)]
    ok = got is not None and sorted(got) == sorted(want)
    check(ok and len(want) > 0, "%s: %s features, the store query gives %d" % (what, None if got is None else len(got), len(want)))


def check_filters():
    same_set(gf_ids({"TYPENAMES": "kartenn:batiment", "FILTER":
                     '<fes:Filter %s><fes:PropertyIsEqualTo><fes:ValueReference>usage</fes:ValueReference>'
                     '<fes:Literal>commerce</fes:Literal></fes:PropertyIsEqualTo></fes:Filter>' % FES}),
             "select uid from batiment where usage = 'commerce'", "KVP FILTER PropertyIsEqualTo")
    same_set(gf_ids(post=post_query("batiment",
             '<fes:Filter><fes:And><fes:PropertyIsGreaterThanOrEqualTo><fes:ValueReference>kartenn:annee_construction'
             '</fes:ValueReference><fes:Literal>1980</fes:Literal></fes:PropertyIsGreaterThanOrEqualTo>'
             '<fes:Or><fes:PropertyIsLike wildCard="*" singleChar="?" escapeChar="\\" matchCase="false">'
             '<fes:ValueReference>usage</fes:ValueReference><fes:Literal>LOGEMENT*</fes:Literal></fes:PropertyIsLike>'
             '<fes:Not><fes:PropertyIsNull><fes:ValueReference>erp_categorie</fes:ValueReference></fes:PropertyIsNull></fes:Not>'
             '</fes:Or></fes:And></fes:Filter>')),
             "select uid from batiment where annee_construction >= 1980 and (usage like 'logement%' or erp_categorie is not null)",
             "POST And/Or/Not/Like/Null")
    same_set(gf_ids(post=post_query("batiment",
             '<fes:Filter><fes:PropertyIsBetween><fes:ValueReference>niveaux</fes:ValueReference>'
             '<fes:LowerBoundary><fes:Literal>2</fes:Literal></fes:LowerBoundary><fes:UpperBoundary>'
             '<fes:Literal>4</fes:Literal></fes:UpperBoundary></fes:PropertyIsBetween></fes:Filter>')),
             "select uid from batiment where niveaux between 2 and 4", "PropertyIsBetween")
    box = (1224700, 7192500, 1225000, 7192800)
    mbr = "BuildMbr(%f,%f,%f,%f,3948)" % box
    same_set(gf_ids({"TYPENAMES": "kartenn:batiment", "BBOX": "%f,%f,%f,%f" % box}),
             "select uid from batiment where ST_Intersects(geom, %s)" % mbr, "KVP BBOX in the store CRS")
    c = spatialite()
    ll = c.execute("select MbrMinX(g), MbrMinY(g), MbrMaxX(g), MbrMaxY(g) from (select Transform(%s, 4326) g)" % mbr).fetchone()
    inner = "%.9f,%.9f,%.9f,%.9f" % (ll[0] + 1e-4, ll[1] + 1e-4, ll[2] - 1e-4, ll[3] - 1e-4)
    lonlat = [float(x) for x in inner.split(",")]
    q = "select uid from batiment where ST_Intersects(geom, Transform(BuildMbr(?,?,?,?,4326), 3948))"
    same_set(gf_ids({"TYPENAMES": "kartenn:batiment", "BBOX": "%f,%f,%f,%f,urn:ogc:def:crs:EPSG::4326"
                     % (lonlat[1], lonlat[0], lonlat[3], lonlat[2])}), q, "KVP BBOX urn EPSG:4326 (lat/lon)", lonlat)
    same_set(gf_ids(post=post_query("batiment",
             '<fes:Filter><fes:BBOX><fes:ValueReference>geom</fes:ValueReference><gml:Envelope srsName='
             '"http://www.opengis.net/def/crs/EPSG/0/4326"><gml:lowerCorner>%f %f</gml:lowerCorner><gml:upperCorner>'
             '%f %f</gml:upperCorner></gml:Envelope></fes:BBOX></fes:Filter>' % (lonlat[1], lonlat[0], lonlat[3], lonlat[2]))),
             q, "FES BBOX with a lat/lon Envelope", lonlat)
    poly = "1224700 7192500 1225000 7192500 1225000 7192800 1224700 7192500"
    gml_poly = ('<gml:Polygon gml:id="p1" srsName="urn:ogc:def:crs:EPSG::3948"><gml:exterior><gml:LinearRing>'
                '<gml:posList>%s</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>' % poly)
    wkt = "POLYGON((%s))" % ", ".join(" ".join(p) for p in zip(poly.split()[::2], poly.split()[1::2]))
    for op, fn in (("Intersects", "ST_Intersects"), ("Within", "ST_Within")):
        same_set(gf_ids(post=post_query("batiment", '<fes:Filter><fes:%s><fes:ValueReference>geom</fes:ValueReference>%s'
                                        '</fes:%s></fes:Filter>' % (op, gml_poly, op))),
                 "select uid from batiment where %s(geom, GeomFromText('%s', 3948)) = 1" % (fn, wkt), "FES %s" % op)
    same_set(gf_ids(post=post_query("eclairage_support", '<fes:Filter><fes:DWithin><fes:ValueReference>geom'
                                    '</fes:ValueReference><gml:Point gml:id="p2" srsName="urn:ogc:def:crs:EPSG::3948">'
                                    '<gml:pos>1224900 7192700</gml:pos></gml:Point><fes:Distance uom="m">80'
                                    '</fes:Distance></fes:DWithin></fes:Filter>')),
             "select uid from eclairage_support where ST_Distance(geom, MakePoint(1224900, 7192700, 3948)) <= 80",
             "FES DWithin 80 m")
    some = sorted(reference("batiment"))[:3]
    got = gf_ids({"RESOURCEID": ",".join("batiment." + u for u in some)})
    check(got is not None and sorted(got) == some, "RESOURCEID returns exactly the features named")
    got = gf_ids(post=post_query("batiment", '<fes:Filter>%s</fes:Filter>' % "".join(
        '<fes:ResourceId rid="batiment.%s"/>' % u for u in some)))
    check(got is not None and sorted(got) == some, "FES ResourceId returns exactly the features named")
    got = gf_ids({"TYPENAMES": "kartenn:batiment", "SORTBY": "surface DESC", "COUNT": "20"})
    want = [r[0] for r in c.execute("select uid from batiment order by surface desc, fid limit 20")]
    check(got == want, "SORTBY surface DESC with COUNT gives the store's order")
    got = gf_ids({"TYPENAME": "kartenn:batiment", "SORTBY": "surface D", "MAXFEATURES": "20"}, version="1.1.0")
    check(got == want, "1.1.0 SORTBY surface D with MAXFEATURES")
    # a 1.1.0 ogc:Filter
    same_set(gf_ids({"TYPENAME": "kartenn:batiment", "FILTER":
                     '<ogc:Filter xmlns:ogc="http://www.opengis.net/ogc"><ogc:PropertyIsLessThan><ogc:PropertyName>'
                     'annee_construction</ogc:PropertyName><ogc:Literal>1960</ogc:Literal></ogc:PropertyIsLessThan>'
                     '</ogc:Filter>'}, version="1.1.0"),
             "select uid from batiment where annee_construction < 1960", "Filter 1.1 PropertyIsLessThan")


def check_paging_crs():
    ids, url, pages = [], wfs_url(SERVICE="WFS", REQUEST="GetFeature", VERSION="2.0.0", TYPENAMES="kartenn:batiment", COUNT="120"), 0
    while url and pages < 20:
        s, _, b = fetch(url)
        root = etree.fromstring(b)
        check(root.get("numberMatched") == "500", "paging: numberMatched 500 on every page")
        got = list(gml_features(b, GML32))
        check(int(root.get("numberReturned")) == len(got), "paging: numberReturned is the member count")
        ids += got
        url, pages = root.get("next"), pages + 1
    check(pages == 5 and sorted(ids) == sorted(reference("batiment")), "paging by next links: 5 pages, every feature once")
    s, _, b = fetch(wfs_url(SERVICE="WFS", REQUEST="GetFeature", VERSION="2.0.0", TYPENAMES="kartenn:batiment", RESULTTYPE="hits"))
    r = etree.fromstring(b)
    check(r.get("numberMatched") == "500" and r.get("numberReturned") == "0" and len(r) == 0, "resultType=hits")
    uid = sorted(reference("eclairage_support"))[0]
    ref = reference("eclairage_support")[uid][1]
    lonlat = spatialite().execute("select X(g), Y(g) from (select Transform(MakePoint(?, ?, 3948), 4326) g)", ref[:2]).fetchone()
    for srs, first in (("urn:ogc:def:crs:EPSG::4326", lonlat[1]), ("EPSG:4326", lonlat[0]),
                       ("http://www.opengis.net/def/crs/EPSG/0/4326", lonlat[1])):
        s, _, b = fetch(wfs_url(SERVICE="WFS", REQUEST="GetFeature", VERSION="2.0.0", RESOURCEID="eclairage_support." + uid, SRSNAME=srs))
        pos = [float(x) for x in etree.fromstring(b).findtext(".//{%s}pos" % GML32).split()]
        check(abs(pos[0] - first) < 1e-8, "srsName %s puts %s first" % (srs, "latitude" if first == lonlat[1] else "longitude"))
    s, h, b = fetch(wfs_url(SERVICE="WFS", REQUEST="GetFeature", VERSION="2.0.0", TYPENAMES="kartenn:collab_toilettes", OUTPUTFORMAT="application/json"))
    j = json.loads(b)
    check(s == 200 and j["numberMatched"] == len(j["features"]) == len(reference("collab_toilettes")),
          "GeoJSON output: the published contributions only")
    got = {f["id"].split(".", 1)[1]: (f["properties"], flat(f["geometry"]["coordinates"])) for f in j["features"]}
    compare("collab_toilettes", got, "WFS GeoJSON")


# ---- bad requests ------------------------------------------------------
BAD = [  # (path+query or (body, ctype)), status, code, locator (None: not checked)
    ("/wfs?SERVICE=WFS", 400, "MissingParameterValue", "request"),
    ("/ows?REQUEST=GetCapabilities", 400, "MissingParameterValue", "service"),
    ("/ows?SERVICE=XYZ&REQUEST=GetCapabilities", 400, "InvalidParameterValue", "service"),
    ("/wfs?REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment", 400, "MissingParameterValue", "service"),
    ("/wfs?SERVICE=WFS&REQUEST=Transaction&VERSION=2.0.0", 501, "OperationNotSupported", "Transaction"),
    ("/wfs?SERVICE=WFS&REQUEST=Dance&VERSION=2.0.0", 501, "OperationNotSupported", "Dance"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&TYPENAMES=kartenn:batiment", 400, "MissingParameterValue", "version"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=3.0.0&TYPENAMES=kartenn:batiment", 400, "InvalidParameterValue", "version"),
    ("/wfs?SERVICE=WFS&REQUEST=GetCapabilities&ACCEPTVERSIONS=3.0.0,1.0.0", 400, "VersionNegotiationFailed", None),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0", 400, "MissingParameterValue", "typeNames"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:nope", 400, "InvalidParameterValue", "typeNames"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:intervention", 400, "InvalidParameterValue", "typeNames"),
    ("/wfs?SERVICE=WFS&REQUEST=DescribeFeatureType&VERSION=2.0.0&TYPENAMES=kartenn:cimetiere_concession", 400, "InvalidParameterValue", "typeNames"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment&COUNT=-1", 400, "InvalidParameterValue", "count"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment&STARTINDEX=x", 400, "InvalidParameterValue", "startIndex"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment&RESULTTYPE=all", 400, "InvalidParameterValue", "resultType"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment&OUTPUTFORMAT=image/png", 400, "InvalidParameterValue", "outputFormat"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment&SRSNAME=EPSG:999999", 400, "InvalidParameterValue", "srsName"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment&SRSNAME=WGS84", 400, "InvalidParameterValue", "srsName"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment&BBOX=1,2,3", 400, "InvalidParameterValue", "bbox"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment&BBOX=3,2,1,0", 400, "InvalidParameterValue", "bbox"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment&FILTER=%3Cfes:Filter", 400, "OperationParsingFailed", "FILTER"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment&FILTER=" + urllib.parse.quote(
        '<Filter><PropertyIsEqualTo><ValueReference>nope</ValueReference><Literal>1</Literal></PropertyIsEqualTo></Filter>'),
     400, "InvalidParameterValue", "FILTER"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:collab_toilettes&FILTER=" + urllib.parse.quote(
        '<Filter><PropertyIsEqualTo><ValueReference>contributeur</ValueReference><Literal>x</Literal></PropertyIsEqualTo></Filter>'),
     400, "InvalidParameterValue", "FILTER"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment&FILTER=" + urllib.parse.quote(
        '<Filter><PropertyIsEqualTo><ValueReference>niveaux</ValueReference><Literal>deux</Literal></PropertyIsEqualTo></Filter>'),
     400, "InvalidParameterValue", "FILTER"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment&FILTER=" + urllib.parse.quote(
        '<Filter><PropertyIsSomething/></Filter>'), 400, "InvalidParameterValue", "FILTER"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment&BBOX=0,0,1,1&FILTER=" + urllib.parse.quote(
        '<Filter><PropertyIsNull><ValueReference>nom</ValueReference></PropertyIsNull></Filter>'), 400, "InvalidParameterValue", "FILTER"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:batiment&SORTBY=nope", 400, "InvalidParameterValue", "sortBy"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=kartenn:collab_toilettes&SORTBY=contributeur", 400, "InvalidParameterValue", "sortBy"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&STOREDQUERY_ID=urn:nope", 400, "InvalidParameterValue", "STOREDQUERY_ID"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&STOREDQUERY_ID=urn:ogc:def:query:OGC-WFS::GetFeatureById", 400, "MissingParameterValue", "ID"),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&STOREDQUERY_ID=urn:ogc:def:query:OGC-WFS::GetFeatureById&ID=batiment.nope", 404, "NotFound", "ID"),
    ("/wfs?SERVICE=WFS&REQUEST=DescribeStoredQueries&VERSION=2.0.0&STOREDQUERY_ID=urn:nope", 400, "InvalidParameterValue", "STOREDQUERY_ID"),
    ("/wfs?SERVICE=WFS&REQUEST=ListStoredQueries&VERSION=1.1.0", 501, "OperationNotSupported", "ListStoredQueries"),
    ("/wfs?SERVICE=WFS&REQUEST=GetCapabilities&request=GetFeature", 400, "InvalidParameterValue", None),
    ("/wfs?SERVICE=WFS&REQUEST=Get%zzCapabilities", 400, "InvalidParameterValue", None),
    ("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=1.1.0&TYPENAME=kartenn:nope", 400, "InvalidParameterValue", "typeName"),
    (("this is not xml", "application/xml"), 400, "OperationParsingFailed", None),
    (('<GetCapabilities xmlns="urn:other"/>', "application/xml"), 400, "OperationParsingFailed", None),
    (('<wfs:GetFeature xmlns:wfs="http://www.opengis.net/wfs/2.0" service="WFS" version="2.0.0"><wfs:Query '
      'typeNames="kartenn:batiment kartenn:parcelle"/></wfs:GetFeature>', "application/xml"), 501, "OptionNotSupported", "typeNames"),
    (('<wfs:GetFeature xmlns:wfs="http://www.opengis.net/wfs/2.0" service="WFS" version="2.0.0"><wfs:Query '
      'typeNames="kartenn:batiment"><fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:PropertyIsEqualTo>'
      '<fes:Function name="strToLower"/><fes:Literal>a</fes:Literal></fes:PropertyIsEqualTo></fes:Filter></wfs:Query>'
      '</wfs:GetFeature>', "application/xml"), 501, "OperationNotSupported", "FILTER"),
    (("SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0", "application/x-www-form-urlencoded"), 400, "MissingParameterValue", "typeNames"),
]


def check_bad_requests():
    for i, (req, status, code, locator) in enumerate(BAD):
        if isinstance(req, tuple):
            s, h, b = fetch(WFS, req[0].encode(), req[1])
            what = "POST %s" % req[0][:60]
        else:
            s, h, b = fetch(BASE + req)
            what = req[:110]
        try:
            root = etree.fromstring(b)
        except etree.XMLSyntaxError:
            check(False, "%s: not XML: %r" % (what, b[:200]))
            continue
        v11 = root.nsmap.get("ows") == "http://www.opengis.net/ows"
        exc = root.find("{%s}Exception" % root.nsmap.get("ows", ""))
        got = (s, exc.get("exceptionCode") if exc is not None else None, exc.get("locator") if exc is not None else None)
        check(got[0] == status and got[1] == code and (locator is None or got[2] == locator),
              "%s: answered %s, wanted %s" % (what, got, (status, code, locator)))
        schema = "ows/1.0.0/owsExceptionReport.xsd" if v11 else "ows/1.1.0/owsExceptionReport.xsd"
        if i % 5 == 0 or v11:
            validate(b, os.path.join(SCHEMAS, schema), "exception report of %s" % what)


# ---- OGC API Features --------------------------------------------------
def jget(url, status=200):
    s, h, b = fetch(url, headers={"Accept": "application/json"})
    check(s == status, "%s: status %d, wanted %d" % (url, s, status))
    return h, (json.loads(b) if b and s < 500 else None)


def check_ogcapi():
    _, land = jget(OAPI)
    rels = {l["rel"] for l in land["links"]}
    check({"self", "service-desc", "conformance", "data"} <= rels, "landing page links: %s" % rels)
    _, conf = jget(OAPI + "/conformance")
    check("http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conf["conformsTo"], "conformance declares Part 2")
    _, cols = jget(OAPI + "/collections")
    check(sorted(c["id"] for c in cols["collections"]) == sorted(PUBLIC), "collections are the public layers")
    jget(OAPI + "/collections/intervention", 404)
    jget(OAPI + "/collections/cimetiere_concession/items", 404)
    _, col = jget(OAPI + "/collections/batiment")
    check(col["storageCrs"] == "http://www.opengis.net/def/crs/EPSG/0/3948", "storageCrs is EPSG:3948")
    # paging through next links
    url, seen = OAPI + "/collections/batiment/items?limit=150", []
    while url:
        _, page = jget(url)
        check(page["numberMatched"] == 500 and page["numberReturned"] == len(page["features"]), "items page counts")
        seen += [f["id"] for f in page["features"]]
        url = next((l["href"] for l in page["links"] if l["rel"] == "next"), None)
    check(sorted(seen) == sorted(reference("batiment")), "items: next links walk every feature once")
    # CRS: storage CRS coordinates are the store's
    uid = sorted(reference("eclairage_support"))[1]
    h, f = jget(OAPI + "/collections/eclairage_support/items/%s?crs=http://www.opengis.net/def/crs/EPSG/0/3948" % uid)
    check(h.get("Content-Crs") == "<http://www.opengis.net/def/crs/EPSG/0/3948>", "Content-Crs of crs=3948")
    ref = reference("eclairage_support")[uid][1]
    check(max(abs(a - b) for a, b in zip(flat(f["geometry"]["coordinates"]), ref)) <= TOL, "item in the storage CRS within 1 mm")
    h, f84 = jget(OAPI + "/collections/eclairage_support/items/%s" % uid)
    h2, f4326 = jget(OAPI + "/collections/eclairage_support/items/%s?crs=http://www.opengis.net/def/crs/EPSG/0/4326" % uid)
    c84, c4326 = f84["geometry"]["coordinates"], f4326["geometry"]["coordinates"]
    check(h.get("Content-Crs") == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>" and abs(c84[0] - c4326[1]) < 1e-9
          and abs(c84[1] - c4326[0]) < 1e-9, "EPSG:4326 is latitude first, CRS84 longitude first")
    box = "-3.345,47.757,-3.338,47.761"
    _, a = jget(OAPI + "/collections/batiment/items?limit=1000&bbox=" + box)
    _, b = jget(OAPI + "/collections/batiment/items?limit=1000&bbox=47.757,-3.345,47.761,-3.338&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326")
    want = [r[0] for r in spatialite().execute(
        "select uid from batiment where ST_Intersects(geom, Transform(BuildMbr(-3.345,47.757,-3.338,47.761,4326), 3948))")]
    check(sorted(f["id"] for f in a["features"]) == sorted(want) == sorted(f["id"] for f in b["features"]) and want,
          "bbox (CRS84) and bbox-crs=4326 (lat/lon) select what SpatiaLite selects")
    _, d = jget(OAPI + "/collections/eclairage_support/items?limit=10000&datetime=2010-01-01/..")
    n = spatialite().execute("select count(*) from eclairage_support where date_pose >= '2010-01-01'").fetchone()[0]
    check(d["numberMatched"] == n and n > 0, "datetime interval: %d vs %d" % (d["numberMatched"], n))
    _, p = jget(OAPI + "/collections/batiment/items?usage=commerce&limit=1000")
    n = spatialite().execute("select count(*) from batiment where usage = 'commerce'").fetchone()[0]
    check(p["numberMatched"] == n == len(p["features"]), "property filter usage=commerce")
    jget(OAPI + "/collections/batiment/items?bogus=1", 400)
    jget(OAPI + "/collections/batiment/items?limit=0", 400)
    jget(OAPI + "/collections/batiment/items?crs=EPSG:4326", 400)
    jget(OAPI + "/collections/batiment/items?datetime=yesterday", 400)
    jget(OAPI + "/collections/collab_toilettes/items?contributeur=x", 400)
    jget(OAPI + "/collections/batiment/items/nope", 404)
    hidden = [r[0] for r in spatialite().execute("select uid from collab_commerce where etat <> 'published'")]
    check(len(hidden) > 0, "the demo has unpublished contributions")
    for u in hidden[:3]:
        jget(OAPI + "/collections/collab_commerce/items/" + u, 404)
    s, h, body = fetch(OAPI + "/collections/batiment/items?f=html&limit=5")
    check(s == 200 and h.get("Content-Type", "").startswith("text/html") and b"<table>" in body, "items as HTML")
    s, h, body = fetch(OAPI + "/collections", headers={"Accept": "text/html"})
    check(s == 200 and h.get("Content-Type", "").startswith("text/html"), "collections as HTML by Accept")


# ---- privacy -----------------------------------------------------------
def check_privacy():
    c = sqlite3.connect(DB)
    public_values, private_values = set(), set()
    for name, d in LAYERS.items():
        for a in d["attributes"]:
            if a["type"] not in ("text",):
                continue
            vals = {r[0] for r in c.execute('select distinct "%s" from "%s" where "%s" is not null' % (a["name"], name, a["name"]))}
            (public_values if d.get("public") and a.get("public") else private_values).update(vals)
    secrets = {v for v in private_values - public_values if isinstance(v, str) and len(v) >= 6}
    for name in LAYERS:  # unpublished contributions, by uid
        if published_only(name):
            secrets |= {r[0] for r in c.execute("select uid from \"%s\" where etat <> 'published'" % name)}
    check(len(secrets) > 100, "privacy: %d private values to look for" % len(secrets))
    blobs = [open(p, "rb").read().decode("utf-8", "replace") for p in glob.glob(os.path.join(ANSWERS, "*"))]
    blobs += [open(p, encoding="utf-8", errors="replace").read() for p in glob.glob(os.path.join(WORK, "ogr_*.json"))]
    text = "\n".join(blobs)
    def forms(v):  # a whole value: an XML/HTML text node, a JSON string, an id
        x = v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&apos;").replace('"', "&quot;")
        j = json.dumps(v, ensure_ascii=False)
        return (">%s<" % x, ">%s<" % v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"), j, '.%s"' % v)
    leaked = [s for s in secrets if any(f in text for f in forms(s))]
    check(not leaked, "privacy: %d private values in %d answers, e.g. %s" % (len(leaked), len(blobs), leaked[:5]))
    print("privacy: searched %d answers for %d private values" % (len(blobs), len(secrets)))


def main():
    steps = [check_schemas, check_bad_requests, check_filters, check_paging_crs, check_ogcapi, check_gdal,
             check_owslib, check_privacy]
    only = os.environ.get("KT_OWS_ONLY")
    for step in steps:
        if only and step.__name__ not in only.split(","):
            continue
        print("--", step.__name__, flush=True)
        try:
            step()
        except Exception as e:  # a crash of a step is a failure, not the end
            import traceback
            traceback.print_exc()
            check(False, "%s raised %r" % (step.__name__, e))
    print("%d checks, %d failures" % (checks, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
