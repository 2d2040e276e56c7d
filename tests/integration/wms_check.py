#!/usr/bin/python3
"""wms_check.py — WMS 1.3.0 / 1.1.1 of a running kartenn, checked as a
client sees it (run by test_wms.sh with KT_WMS_BASE, KT_WMS_DB, KT_WMS_WORK).

- capabilities validate offline (1.3.0: XSD with SLD's GetLegendGraphic,
  1.1.1: DTD), list exactly the public layers with a geometry, and the
  advertised legend sizes are the sizes GetLegendGraphic draws;
- GetMap images are read as images (Pillow): size, format, not blank, and
  lighting supports drawn where the store says they are, in their DT-DICT
  class colour, in EPSG:3948, 2154, 3857, 4326 (1.3.0 lat/lon and 1.1.1
  lon/lat BBOX order) and CRS:84; transparency (alpha 0 away from
  features), BGCOLOR, JPEG, several layers, named styles; an unpublished
  contribution is not drawn;
- GetFeatureInfo at the pixel of a support returns it, with its public
  attributes only (JSON, HTML, GML, 1.1.1 X/Y);
- every kind of bad request answers the right exception code, in a report
  that validates (1.3.0 XSD, 1.1.1 DTD), or as INIMAGE/BLANK images;
- gdal_translate (WMS: driver, through the capabilities) and OWSLib's
  WebMapService 1.3.0 and 1.1.1 fetch every public layer.
Stores (by coordinates and attributes) are read independently with
Python's sqlite3 and mod_spatialite.
"""
import glob
import io
import json
import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from PIL import Image

BASE = os.environ["KT_WMS_BASE"]
DB = os.environ["KT_WMS_DB"]
WORK = os.environ["KT_WMS_WORK"]
SRC = os.environ["KT_SRC"]
SPECS = os.path.join(os.environ["KT_SHARED"], "specs", "ogc")
SCHEMAS = os.path.join(SPECS, "schemas.opengis.net")
os.environ["XML_CATALOG_FILES"] = os.path.join(SPECS, "catalog.xml")

LAYERS = {}
for p in sorted(glob.glob(os.path.join(SRC, "layers", "*.json"))):
    d = json.load(open(p, encoding="utf-8"))
    LAYERS[d["name"]] = d
PUBLIC = sorted(n for n, d in LAYERS.items() if d.get("public") and d["geometry"] != "NONE")
CLASS_RGB = {"A": (0x1a, 0x96, 0x41), "B": (0xf0, 0x8c, 0x00), "C": (0xd7, 0x19, 0x1c),
             None: (0x8c, 0x8c, 0x8c)}
WMS_NS = "{http://www.opengis.net/wms}"

checks = 0
failures = []


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def fetch(params, path="/wms", raw_query=None):
    q = raw_query if raw_query is not None else urllib.parse.urlencode(params)
    url = "%s%s?%s" % (BASE, path, q)
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def validate(body, v130, what):
    path = os.path.join(WORK, "doc.xml")
    with open(path, "wb") as f:
        f.write(body)
    if v130:
        root = ET.fromstring(body)
        xsd = "sld/1.1.0/sld_capabilities.xsd" if root.tag == WMS_NS + "WMS_Capabilities" \
            else "wms/1.3.0/exceptions_1_3_0.xsd"
        cmd = ["xmllint", "--nonet", "--noout", "--schema", os.path.join(SCHEMAS, xsd), path]
    else:
        cmd = ["xmllint", "--nonet", "--noout", "--valid", path]
    r = subprocess.run(cmd, capture_output=True, text=True)
    check(r.returncode == 0, "%s validates: %s" % (what, r.stderr[-400:]))


def spatialite():
    c = sqlite3.connect(DB)
    c.enable_load_extension(True)
    c.load_extension("mod_spatialite")
    return c


def image(body):
    return Image.open(io.BytesIO(body))


def getmap(**kw):
    p = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "STYLES": "",
         "FORMAT": "image/png"}
    p.update({k.upper(): v for k, v in kw.items()})
    return fetch(p)


def close(rgb, want, tol=12):
    return all(abs(a - b) <= tol for a, b in zip(rgb[:3], want))


# ---- capabilities ----------------------------------------------------------
def names_of(root, ns):
    return [e.text for e in root.iter(ns + "Name") if e.text] if root is not None else []


def check_capabilities():
    for v, ns in (("1.3.0", WMS_NS), ("1.1.1", "")):
        s, ct, body = fetch({"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": v})
        check(s == 200, "GetCapabilities %s: %d" % (v, s))
        validate(body, v == "1.3.0", "capabilities %s" % v)
        root = ET.fromstring(body)
        layers = [l.find(ns + "Name").text for l in root.iter(ns + "Layer")]
        check(sorted(layers[1:]) == PUBLIC, "capabilities %s list the public layers: %s" % (v, layers))
        check(layers[0] == "lanester", "root layer is lanester")
        crs = [e.text for e in root.iter(ns + ("CRS" if v == "1.3.0" else "SRS"))]
        for want in ("EPSG:3948", "EPSG:2154", "EPSG:3857", "EPSG:4326"):
            check(want in crs, "capabilities %s advertise %s" % (v, want))
        # legend URLs: the size advertised is the size drawn
        for lu in list(root.iter(ns + "LegendURL"))[:6]:
            href = lu.find(ns + "OnlineResource").get("{http://www.w3.org/1999/xlink}href")
            with urllib.request.urlopen(href, timeout=60) as r:
                im = image(r.read())
            check(im.size == (int(lu.get("width")), int(lu.get("height"))),
                  "legend %s: size %s advertised %sx%s" % (href, im.size, lu.get("width"), lu.get("height")))
        text = body.decode()
        for private in ("cimetiere_concession", "intervention", ">titulaires<", ">pdl<"):
            check(private not in text, "capabilities %s do not name %s" % (v, private))
    # version negotiation
    s, ct, body = fetch({"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.2.0"})
    check(b'version="1.1.1"' in body, "VERSION=1.2.0 negotiates 1.1.1")
    s, ct, body = fetch({"REQUEST": "GetCapabilities", "SERVICE": "WMS"}, path="/ows")
    check(s == 200 and b"WMS_Capabilities" in body, "/ows?SERVICE=WMS answers WMS")


# ---- GetMap ---------------------------------------------------------------
def supports(epsg):
    """(x, y, class, reference) of the supports, in EPSG:epsg, isolated
    (no other support within 12 m) so that their pixel is theirs."""
    c = spatialite()
    rows = c.execute("""select X(t), Y(t), dtdict_class, reference, X(geom), Y(geom) from
        (select Transform(geom, ?) t, dtdict_class, reference, geom from eclairage_support)""",
                     (epsg,)).fetchall()
    out = []
    for r in rows:
        near = [o for o in rows if o is not r and (o[4] - r[4]) ** 2 + (o[5] - r[5]) ** 2 < 144]
        if not near:
            out.append(r[:4])
    return out


def check_supports_drawn(crs, epsg, version="1.3.0", latlon=False, half=(200, 150)):
    sup = supports(epsg)
    x0, y0 = sup[len(sup) // 2][:2]
    box = (x0 - half[0], y0 - half[1], x0 + half[0], y0 + half[1])
    bbox = (box[1], box[0], box[3], box[2]) if latlon else box
    key = "CRS" if version == "1.3.0" else "SRS"
    s, ct, body = getmap(**{"VERSION": version, "LAYERS": "eclairage_support", key: crs, "BBOX":
                            ",".join("%.10f" % v for v in bbox), "WIDTH": 800, "HEIGHT": 600})
    if not check(s == 200 and ct == "image/png", "GetMap %s %s: %d %s %s" % (version, crs, s, ct, body[:300])):
        return None
    im = image(body).convert("RGB")
    check(im.size == (800, 600), "GetMap %s size %s" % (crs, im.size))
    hits = total = 0
    for x, y, cls, ref in sup:
        px = (x - box[0]) / (box[2] - box[0]) * 800
        py = (box[3] - y) / (box[3] - box[1]) * 600
        if not (10 <= px < 790 and 10 <= py < 590):
            continue
        total += 1
        rgb = im.getpixel((int(px), int(py)))
        if check(close(rgb, CLASS_RGB[cls]), "%s %s: support %s (%s) at pixel %d,%d is %s, not %s"
                 % (version, crs, ref, cls, px, py, rgb, CLASS_RGB[cls])):
            hits += 1
    check(total >= 5, "%s %s: %d supports in the image" % (version, crs, total))
    print("%s %s: %d/%d supports in their class colour" % (version, crs, hits, total))
    return body


def check_getmap():
    check_supports_drawn("EPSG:3948", 3948)
    check_supports_drawn("EPSG:2154", 2154)
    check_supports_drawn("EPSG:3857", 3857, half=(300, 225))
    a = check_supports_drawn("EPSG:4326", 4326, "1.3.0", latlon=True, half=(0.0027, 0.00135))
    b = check_supports_drawn("EPSG:4326", 4326, "1.1.1", latlon=False, half=(0.0027, 0.00135))
    check_supports_drawn("CRS:84", 4326, "1.3.0", latlon=False, half=(0.0027, 0.00135))
    check(a is not None and a == b, "1.3.0 EPSG:4326 lat/lon BBOX draws what 1.1.1 lon/lat does")
    # the same numbers in the wrong order are another place: nothing there
    sup = supports(4326)
    x, y = sup[0][:2]
    s, ct, body = getmap(LAYERS="eclairage_support", CRS="EPSG:4326", TRANSPARENT="TRUE",
                         BBOX="%f,%f,%f,%f" % (x - .003, y - .002, x + .003, y + .002), WIDTH=300, HEIGHT=200)
    im = image(body)
    check(im.mode == "RGBA" and im.getextrema()[3] == (0, 0),
          "1.3.0 EPSG:4326 with a lon/lat BBOX is somewhere else (empty)")

    # a whole-town map: not blank, the right size; JPEG too
    ext = spatialite().execute("select MbrMinX(e), MbrMinY(e), MbrMaxX(e), MbrMaxY(e) from "
                               "(select Extent(geom) e from commune)").fetchone()
    town = ",".join("%.3f" % v for v in ext)
    for fmt, mode in (("image/png", "RGB"), ("image/jpeg", "RGB")):
        s, ct, body = getmap(LAYERS="lanester", CRS="EPSG:3948", BBOX=town, WIDTH=1000, HEIGHT=700, FORMAT=fmt)
        check(s == 200 and ct == fmt, "town map %s: %d %s" % (fmt, s, ct))
        im = image(body)
        check(im.format == ("PNG" if fmt == "image/png" else "JPEG") and im.size == (1000, 700),
              "town map %s is a %s of %s" % (fmt, im.format, im.size))
        colours = im.convert("RGB").getcolors(1 << 20)
        check(colours is not None and len(colours) > 50, "town map %s is not blank (%s colours)"
              % (fmt, len(colours) if colours else "many"))
        with open(os.path.join(WORK, "town.%s" % fmt[6:]), "wb") as f:
            f.write(body)

    # transparency: alpha 0 away from features, opaque on a support
    sup = supports(3948)
    x, y, cls = sup[0][:3]
    bbox = "%f,%f,%f,%f" % (x - 100, y - 75, x + 100, y + 75)
    s, ct, body = getmap(LAYERS="eclairage_support", CRS="EPSG:3948", BBOX=bbox, WIDTH=400, HEIGHT=300,
                         TRANSPARENT="TRUE")
    im = image(body)
    check(im.mode == "RGBA", "TRANSPARENT=TRUE gives RGBA (%s)" % im.mode)
    check(im.getpixel((200, 150))[3] == 255 and close(im.getpixel((200, 150)), CLASS_RGB[cls]),
          "transparent map: the support is opaque, in its colour (%s)" % (im.getpixel((200, 150)),))
    alpha = im.getchannel("A")
    zero = sum(1 for v in alpha.getdata() if v == 0)
    check(zero > 0.8 * 400 * 300, "transparent map: %d of %d pixels have alpha 0" % (zero, 400 * 300))
    s, ct, body = getmap(LAYERS="eclairage_support", CRS="EPSG:3948", BBOX=bbox, WIDTH=400, HEIGHT=300)
    im = image(body)
    check(im.mode == "RGB" and im.getpixel((0, 0)) == (255, 255, 255), "opaque map: white background")
    s, ct, body = getmap(LAYERS="eclairage_support", CRS="EPSG:3948", BBOX=bbox, WIDTH=400, HEIGHT=300,
                         BGCOLOR="0x112233")
    im = image(body).convert("RGB")
    check(im.getpixel((0, 0)) == (0x11, 0x22, 0x33), "BGCOLOR honoured: %s" % (im.getpixel((0, 0)),))
    check(close(im.getpixel((200, 150)), CLASS_RGB[cls]), "BGCOLOR map still draws the support")

    # several layers, in order: supports over buildings; named styles
    s, ct, body = getmap(LAYERS="batiment,eclairage_support", STYLES="lanester,lanester-nolabels",
                         CRS="EPSG:3948", BBOX=bbox, WIDTH=400, HEIGHT=300)
    check(s == 200 and close(image(body).convert("RGB").getpixel((200, 150)), CLASS_RGB[cls]),
          "two layers with named styles: the support is on top")

    # an unpublished contribution is not drawn
    c = spatialite()
    for layer, rgb in (("collab_toilettes", (0x1f, 0x78, 0xb4)), ("collab_commerce", (0xc2, 0x18, 0x5b))):
        rows = c.execute("select X(geom), Y(geom), etat from %s" % layer).fetchall()
        hidden = [r for r in rows if r[2] != "published" and
                  all((o[0] - r[0]) ** 2 + (o[1] - r[1]) ** 2 > 400 for o in rows if o is not r)]
        shown = [r for r in rows if r[2] == "published"]
        for r, want in ((hidden[0] if hidden else None, False), (shown[0] if shown else None, True)):
            if r is None:
                continue
            s, ct, body = getmap(LAYERS=layer, CRS="EPSG:3948", WIDTH=200, HEIGHT=200, TRANSPARENT="TRUE",
                                 BBOX="%f,%f,%f,%f" % (r[0] - 50, r[1] - 50, r[0] + 50, r[1] + 50))
            px = image(body).getpixel((100, 100))
            check((px[3] == 255 and close(px, rgb)) == want,
                  "%s: a %s contribution is %s (pixel %s)" % (layer, r[2], "drawn" if want else "not drawn", px))


# ---- GetFeatureInfo ----------------------------------------------------------
def check_featureinfo():
    pub = {a["name"] for a in LAYERS["eclairage_support"]["attributes"] if a.get("public")} | {"dtdict_class"}
    x, y, cls, ref = supports(3948)[3]
    bbox = "%f,%f,%f,%f" % (x - 100, y - 75, x + 100, y + 75)
    base = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetFeatureInfo", "LAYERS": "eclairage_support",
            "QUERY_LAYERS": "eclairage_support", "STYLES": "", "CRS": "EPSG:3948", "BBOX": bbox,
            "WIDTH": 400, "HEIGHT": 300, "I": 200, "J": 150, "FORMAT": "image/png"}
    s, ct, body = fetch(dict(base, INFO_FORMAT="application/json"))
    check(s == 200 and ct.startswith("application/json"), "GetFeatureInfo JSON: %d %s" % (s, ct))
    fc = json.loads(body)
    feats = fc.get("features", [])
    if check(len(feats) == 1, "GetFeatureInfo finds one feature (%d)" % len(feats)):
        p = feats[0]["properties"]
        check(p.get("reference") == ref, "GetFeatureInfo: the clicked support %s (%s)" % (ref, p.get("reference")))
        check(set(p) <= pub, "GetFeatureInfo: public attributes only (%s)" % (set(p) - pub))
        check(p.get("dtdict_class") == cls, "GetFeatureInfo: its DT-DICT class")
        lon, lat = feats[0]["geometry"]["coordinates"][:2]
        want = spatialite().execute("select X(t), Y(t) from (select Transform(MakePoint(?, ?, 3948), 4326) t)",
                                    (x, y)).fetchone()
        check(abs(lon - want[0]) < 1e-7 and abs(lat - want[1]) < 1e-7, "GetFeatureInfo JSON geometry in lon/lat")
    s, ct, body = fetch(dict(base, I=5, J=5, INFO_FORMAT="application/json"))
    check(json.loads(body)["features"] == [], "GetFeatureInfo away from features: none")
    s, ct, body = fetch(dict(base, INFO_FORMAT="text/html"))
    check(s == 200 and ct.startswith("text/html") and ref.encode() in body, "GetFeatureInfo HTML names the support")
    s, ct, body = fetch(dict(base, INFO_FORMAT="application/vnd.ogc.gml"))
    root = ET.fromstring(body)
    refs = [e.text for e in root.iter("{https://www.lanester.bzh/kartenn}reference")]
    check(refs == [ref], "GetFeatureInfo GML: %s" % refs)
    b11 = dict(base, VERSION="1.1.1", SRS="EPSG:3948", X=200, Y=150, INFO_FORMAT="text/plain")
    del b11["CRS"], b11["I"], b11["J"]
    s, ct, body = fetch(b11)
    check(s == 200 and ref.encode() in body, "GetFeatureInfo 1.1.1 X/Y: %s" % body[:200])
    # a published contribution: public attributes, never its contributor
    row = spatialite().execute("select X(geom), Y(geom), contributeur, moderateur from collab_toilettes "
                    "where etat = 'published' and contributeur is not null").fetchone()
    if row:
        q = dict(base, LAYERS="collab_toilettes", QUERY_LAYERS="collab_toilettes",
                 BBOX="%f,%f,%f,%f" % (row[0] - 100, row[1] - 75, row[0] + 100, row[1] + 75))
        for fmt in ("application/json", "text/html", "application/vnd.ogc.gml", "text/plain"):
            s, ct, body = fetch(dict(q, INFO_FORMAT=fmt))
            text = body.decode()
            check("contributeur" not in text and row[2] not in text and (not row[3] or row[3] not in text),
                  "GetFeatureInfo %s of a contribution hides its contributor" % fmt)
            check("toilettes" in text or "Toilettes" in text, "GetFeatureInfo %s finds the contribution" % fmt)


# ---- exceptions ----------------------------------------------------------------
def check_exceptions():
    good = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "batiment", "STYLES": "",
            "CRS": "EPSG:3948", "BBOX": "1224000,7192000,1226000,7193500", "WIDTH": "256", "HEIGHT": "256",
            "FORMAT": "image/png"}
    gfi = dict(good, REQUEST="GetFeatureInfo", QUERY_LAYERS="batiment", INFO_FORMAT="text/html", I="1", J="1")
    s, ct, body = fetch(good)
    check(s == 200 and ct == "image/png", "the reference request works")

    def without(d, k):
        d = dict(d)
        del d[k]
        return d
    cases = [
        ("no REQUEST", without(good, "REQUEST"), "MissingParameterValue"),
        ("REQUEST=Foo", dict(good, REQUEST="Foo"), "OperationNotSupported"),
        ("no VERSION", without(good, "VERSION"), "MissingParameterValue"),
        ("VERSION=4.0.0", dict(good, VERSION="4.0.0"), "InvalidParameterValue"),
        ("no LAYERS", without(good, "LAYERS"), "MissingParameterValue"),
        ("unknown layer", dict(good, LAYERS="nope"), "LayerNotDefined"),
        ("private layer", dict(good, LAYERS="cimetiere_concession"), "LayerNotDefined"),
        ("private layer 2", dict(good, LAYERS="intervention"), "LayerNotDefined"),
        ("layer without geometry", dict(good, LAYERS="eclairage_foyer"), "LayerNotDefined"),
        ("unknown style", dict(good, STYLES="nope"), "StyleNotDefined"),
        ("too many styles", dict(good, STYLES="lanester,lanester"), "StyleNotDefined"),
        ("no CRS", without(good, "CRS"), "MissingParameterValue"),
        ("unknown CRS", dict(good, CRS="EPSG:99999999"), "InvalidCRS"),
        ("CRS not offered", dict(good, CRS="EPSG:32631"), "InvalidCRS"),
        ("garbage CRS", dict(good, CRS="Lambert"), "InvalidCRS"),
        ("no BBOX", without(good, "BBOX"), "MissingParameterValue"),
        ("BBOX of 3", dict(good, BBOX="1,2,3"), "InvalidParameterValue"),
        ("BBOX min > max", dict(good, BBOX="1226000,7192000,1224000,7193500"), "InvalidParameterValue"),
        ("BBOX not numbers", dict(good, BBOX="a,b,c,d"), "InvalidParameterValue"),
        ("no WIDTH", without(good, "WIDTH"), "MissingParameterValue"),
        ("WIDTH=100000", dict(good, WIDTH="100000"), "InvalidParameterValue"),
        ("HEIGHT=100000", dict(good, HEIGHT="100000"), "InvalidParameterValue"),
        ("WIDTH=0", dict(good, WIDTH="0"), "InvalidParameterValue"),
        ("WIDTH=-5", dict(good, WIDTH="-5"), "InvalidParameterValue"),
        ("WIDTH=abc", dict(good, WIDTH="abc"), "InvalidParameterValue"),
        ("WIDTH=4097", dict(good, WIDTH="4097"), "InvalidParameterValue"),
        ("no FORMAT", without(good, "FORMAT"), "MissingParameterValue"),
        ("FORMAT=image/gif", dict(good, FORMAT="image/gif"), "InvalidFormat"),
        ("TRANSPARENT=maybe", dict(good, TRANSPARENT="maybe"), "InvalidParameterValue"),
        ("BGCOLOR=red", dict(good, BGCOLOR="red"), "InvalidParameterValue"),
        ("EXCEPTIONS=foo", dict(good, EXCEPTIONS="foo"), "InvalidParameterValue"),
        ("SERVICE=WFS on /wms", dict(good, SERVICE="WFS"), "InvalidParameterValue"),
        ("GFI no QUERY_LAYERS", without(gfi, "QUERY_LAYERS"), "MissingParameterValue"),
        ("GFI QUERY_LAYERS not in LAYERS", dict(gfi, QUERY_LAYERS="commune"), "LayerNotDefined"),
        ("GFI no INFO_FORMAT", without(gfi, "INFO_FORMAT"), "MissingParameterValue"),
        ("GFI INFO_FORMAT=foo", dict(gfi, INFO_FORMAT="foo/bar"), "InvalidFormat"),
        ("GFI I outside", dict(gfi, I="256"), "InvalidPoint"),
        ("GFI J negative", dict(gfi, J="-1"), "InvalidPoint"),
        ("GFI no I", without(gfi, "I"), "MissingParameterValue"),
        ("legend unknown layer", {"SERVICE": "WMS", "REQUEST": "GetLegendGraphic", "LAYER": "nope",
                                  "FORMAT": "image/png"}, "LayerNotDefined"),
        ("legend bad format", {"SERVICE": "WMS", "REQUEST": "GetLegendGraphic", "LAYER": "batiment",
                               "FORMAT": "text/csv"}, "InvalidFormat"),
        ("legend unknown style", {"SERVICE": "WMS", "REQUEST": "GetLegendGraphic", "LAYER": "batiment",
                                  "FORMAT": "image/png", "STYLE": "nope"}, "StyleNotDefined"),
    ]
    for what, params, code in cases:
        s, ct, body = fetch(params)
        try:
            exc = ET.fromstring(body).find("{http://www.opengis.net/ogc}ServiceException")
            got = exc.get("code") if exc is not None else None
        except ET.ParseError:
            got = None
        check(got == code and ct.startswith("text/xml") and s in (400, 501),
              "%s: want %s, got %s (%d %s) %s" % (what, code, got, s, ct, body[:200]))
        validate(body, True, "exception of %s" % what)
    # 1.1.1: the DTD report, InvalidSRS
    for what, params, code in (
            ("1.1.1 unknown SRS", dict(without(good, "CRS"), VERSION="1.1.1", SRS="EPSG:32631"), "InvalidSRS"),
            ("1.1.1 unknown layer", dict(good, VERSION="1.1.1", SRS="EPSG:3948", LAYERS="nope"),
             "LayerNotDefined"),
            ("1.1.1 WIDTH=100000", dict(good, VERSION="1.1.1", SRS="EPSG:3948", WIDTH="100000"),
             "InvalidParameterValue")):
        s, ct, body = fetch(params)
        exc = ET.fromstring(body).find("ServiceException")
        check(exc is not None and exc.get("code") == code and ct.startswith("application/vnd.ogc.se_xml"),
              "%s: want %s, got %s" % (what, code, body[:200]))
        validate(body, False, "exception of %s" % what)
    # a bad encoding on /wms is a WMS report too
    s, ct, body = fetch(None, raw_query="SERVICE=WMS&REQUEST=GetMap&LAYERS=%zz")
    check(b"ServiceExceptionReport" in body and b"InvalidParameterValue" in body, "bad %-escape on /wms")
    # INIMAGE and BLANK: an image of the asked size and format
    for exc_fmt in ("INIMAGE", "BLANK", "application/vnd.ogc.se_inimage"):
        s, ct, body = fetch(dict(good, LAYERS="nope", EXCEPTIONS=exc_fmt, WIDTH="300", HEIGHT="200",
                                 BGCOLOR="0x204060"))
        check(s == 200 and ct == "image/png", "EXCEPTIONS=%s answers an image (%d %s)" % (exc_fmt, s, ct))
        im = image(body).convert("RGB")
        check(im.size == (300, 200), "EXCEPTIONS=%s image size" % exc_fmt)
        cols = im.getcolors(1 << 16)
        if exc_fmt == "BLANK":
            check(cols == [(300 * 200, (0x20, 0x40, 0x60))], "BLANK is only the background")
        else:
            check(len(cols) > 2, "INIMAGE writes the message (%d colours)" % len(cols))
            with open(os.path.join(WORK, "inimage.png"), "wb") as f:
                f.write(body)
    s, ct, body = fetch(dict(good, LAYERS="nope", EXCEPTIONS="BLANK", TRANSPARENT="TRUE", FORMAT="image/jpeg"))
    check(s == 200 and ct == "image/jpeg", "BLANK JPEG")
    s, ct, body = fetch({"SERVICE": "WMS", "REQUEST": "GetCapabilities"}, path="/healthz")
    check(s == 200, "the server is still up after the bad requests")


# ---- real clients --------------------------------------------------------------
def layer_boxes():
    """Each public layer's extent (EPSG:3948) and a size of about 0.3 m/px
    (zoom 17.4 here: the plots of cemeteries show from zoom 17)."""
    c = spatialite()
    out = {}
    for name in PUBLIC:
        e = c.execute('select MbrMinX(e), MbrMinY(e), MbrMaxX(e), MbrMaxY(e) from (select Extent(geom) e from "%s")'
                      % name).fetchone()
        if e[0] is None:
            continue
        e = (e[0] - 5, e[1] - 5, e[2] + 5, e[3] + 5)
        w = int(min(2048, max(256, (e[2] - e[0]) / 0.3)))
        h = int(max(64, w * (e[3] - e[1]) / (e[2] - e[0])))
        out[name] = (e, w, min(h, 4096))
    return out


def painted(im):
    im = im.convert("RGBA")
    return sum(1 for p in im.getdata() if p[3] > 0 and p[:3] != (255, 255, 255))


def check_gdal():
    for name, (e, w, h) in layer_boxes().items():
        url = ("WMS:%s/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=%s&CRS=EPSG:3948&FORMAT=image/png"
               "&TRANSPARENT=TRUE&BBOX=%f,%f,%f,%f" % (BASE, name, e[0], e[1], e[2], e[3]))
        out = os.path.join(WORK, "gdal_%s.png" % name)
        r = subprocess.run(["gdal_translate", "-q", "-of", "PNG", "-outsize", str(w), str(h), url, out],
                           capture_output=True, text=True, env=dict(os.environ, GDAL_HTTP_TIMEOUT="120"))
        if not check(r.returncode == 0, "gdal_translate %s: %s" % (name, r.stderr[-300:])):
            continue
        im = Image.open(out)
        n = painted(im)
        check(im.size == (w, h) and n > 0, "gdal_translate %s: %s, %d pixels drawn" % (name, im.size, n))
    # and through the capabilities (GDAL lists the layers as subdatasets)
    r = subprocess.run(["gdalinfo", "WMS:%s/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities" % BASE],
                       capture_output=True, text=True)
    for name in PUBLIC:
        check("LAYERS=%s&" % name in r.stdout or "LAYERS=%s\n" % name in r.stdout,
              "gdalinfo lists %s from the capabilities" % name)


def check_owslib():
    from owslib.wms import WebMapService
    boxes = layer_boxes()
    for version in ("1.3.0", "1.1.1"):
        wms = WebMapService(BASE + "/wms", version=version, timeout=120)
        check(sorted(n for n in wms.contents if n != "lanester") == PUBLIC,
              "OWSLib %s sees the public layers" % version)
        ops = [o.name for o in wms.operations]
        check("GetMap" in ops and "GetFeatureInfo" in ops, "OWSLib %s operations %s" % (version, ops))
        for name, (e, w, h) in boxes.items():
            check("EPSG:3948" in wms[name].crsOptions, "OWSLib %s: %s offers EPSG:3948" % (version, name))
            img = wms.getmap(layers=[name], styles=[""], srs="EPSG:3948", bbox=e, size=(w, h),
                             format="image/png", transparent=True)
            im = image(img.read())
            n = painted(im)
            check(im.size == (w, h) and n > 0, "OWSLib %s GetMap %s: %s, %d pixels drawn" % (version, name, im.size, n))


def main():
    steps = [check_capabilities, check_getmap, check_featureinfo, check_exceptions, check_gdal, check_owslib]
    only = os.environ.get("KT_WMS_ONLY")
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
