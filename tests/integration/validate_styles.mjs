// validate_styles.mjs — checks kartenn's MapLibre GL styles.
//
//   node validate_styles.mjs [--layers DIR] [--fonts-dir DIR] FILE...
//   node validate_styles.mjs [--layers DIR] --served BASE URL...
//
// Each style must pass @maplibre/maplibre-gl-style-spec's validator, and
// kartenn's own rules:
//  - every source-layer is a public layer of layers/ with a geometry, and
//    every attribute read by an expression (get/has) is a public
//    attribute of that layer (or dtdict_class on a network layer): a typo
//    or a private attribute would silently draw nothing;
//  - the style works offline: no URL leaves the server (files hold
//    root-relative URLs; a style served by kartenn holds absolute URLs
//    that start with BASE), every text-font is declared in font-faces,
//    and, for files, each font file exists in --fonts-dir;
//  - the layer list of the map page (metadata "kartenn:groups") names
//    every source-layer the style draws, and nothing else.
// Prints one line per problem ("file:line: message") and exits 1 if any.
import {readFileSync, readdirSync, existsSync} from 'node:fs';
import {join, dirname} from 'node:path';
import {fileURLToPath} from 'node:url';
import {validateStyleMin} from '@maplibre/maplibre-gl-style-spec';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let layersDir = join(here, '../../layers');
let fontsDir = '/usr/share/fonts/truetype/dejavu';
let served = null;
const inputs = [];
for (let i = 0; i < args.length; i++) {
    if (args[i] === '--layers') layersDir = args[++i];
    else if (args[i] === '--fonts-dir') fontsDir = args[++i];
    else if (args[i] === '--served') served = args[++i];
    else inputs.push(args[i]);
}
if (!inputs.length) {
    console.error('usage: validate_styles.mjs [--layers DIR] [--fonts-dir DIR] [--served BASE] FILE|URL...');
    process.exit(2);
}

const defs = new Map();
for (const f of readdirSync(layersDir).filter((n) => n.endsWith('.json'))) {
    const d = JSON.parse(readFileSync(join(layersDir, f), 'utf8'));
    defs.set(d.name, d);
}

let problems = 0;
function report(where, msg) {
    console.log(`${where}: ${msg}`);
    problems++;
}

// Every [get|has, "name"] (without an object argument) in an expression.
function readAttributes(expr, out) {
    if (!Array.isArray(expr)) return out;
    if ((expr[0] === 'get' || expr[0] === 'has') && typeof expr[1] === 'string' && expr.length === 2)
        out.add(expr[1]);
    for (const e of expr) readAttributes(e, out);
    return out;
}

function checkUrl(where, what, url) {
    if (typeof url !== 'string') return;
    if (served) {
        if (!url.startsWith(served + '/'))
            report(where, `${what} "${url}" is not on this server (${served})`);
    } else if (!url.startsWith('/') || url.startsWith('//')) {
        report(where, `${what} "${url}" must be root-relative: styles work offline and the server fills in its own address`);
    }
}

function checkKartenn(where, style) {
    for (const [id, src] of Object.entries(style.sources || {})) {
        checkUrl(where, `source ${id} url`, src.url);
        for (const t of src.tiles || []) checkUrl(where, `source ${id} tile URL`, t);
        if (typeof src.data === 'string') checkUrl(where, `source ${id} data`, src.data);
    }
    if (style.glyphs) checkUrl(where, 'glyphs', style.glyphs);
    if (typeof style.sprite === 'string') checkUrl(where, 'sprite', style.sprite);
    for (const s of Array.isArray(style.sprite) ? style.sprite : []) checkUrl(where, 'sprite', s.url);

    const faces = style['font-faces'] || {};
    for (const [name, decl] of Object.entries(faces)) {
        for (const face of Array.isArray(decl) ? decl : [{url: decl}]) {
            checkUrl(where, `font-face "${name}"`, face.url);
            if (!served && typeof face.url === 'string' && face.url.startsWith('/static/fonts/')) {
                const file = join(fontsDir, face.url.slice('/static/fonts/'.length));
                if (!existsSync(file)) report(where, `font-face "${name}": ${file} does not exist (fonts-dejavu-core)`);
            }
        }
    }

    const drawn = new Set();
    for (const layer of style.layers || []) {
        const at = `${where}: layer ${layer.id}`;
        for (const f of layer.layout?.['text-font'] || []) {
            if (typeof f === 'string' && !faces[f])
                report(at, `text-font "${f}" is not declared in font-faces (labels would need glyphs from the internet)`);
        }
        const sl = layer['source-layer'];
        if (!sl) continue;
        drawn.add(sl);
        const def = defs.get(sl);
        if (!def) { report(at, `source-layer "${sl}" is not a layer of ${layersDir}`); continue; }
        if (!def.public) { report(at, `source-layer "${sl}" is not public: it is never in tiles`); continue; }
        if (def.geometry === 'NONE') { report(at, `source-layer "${sl}" has no geometry`); continue; }
        const pub = new Set((def.attributes || []).filter((a) => a.public).map((a) => a.name));
        const priv = new Set((def.attributes || []).filter((a) => !a.public).map((a) => a.name));
        if (def.network) pub.add('dtdict_class');
        pub.add('uid');
        const used = readAttributes([layer.filter, ...Object.values(layer.paint || {}), ...Object.values(layer.layout || {})], new Set());
        for (const a of used) {
            if (priv.has(a)) report(at, `reads the private attribute "${a}" of ${sl}`);
            else if (!pub.has(a)) report(at, `reads "${a}", which ${sl} does not have`);
        }
    }
    const groups = style.metadata?.['kartenn:groups'];
    if (!Array.isArray(groups)) {
        report(where, 'metadata "kartenn:groups" (the layer list of the map page) is missing');
        return;
    }
    const listed = new Set(groups.flatMap((g) => g.layers || []));
    for (const sl of drawn) if (!listed.has(sl)) report(where, `"${sl}" is drawn but missing from the layer list (kartenn:groups)`);
    for (const sl of listed) if (!drawn.has(sl)) report(where, `"${sl}" is in the layer list but the style does not draw it`);
}

for (const input of inputs) {
    let text;
    if (/^https?:/.test(input)) {
        const r = await fetch(input);
        if (!r.ok) { report(input, `HTTP ${r.status}`); continue; }
        text = await r.text();
    } else {
        text = readFileSync(input, 'utf8');
    }
    let style;
    try {
        style = JSON.parse(text);
    } catch (e) {
        report(input, `not JSON: ${e.message}`);
        continue;
    }
    // The style-spec validator (what gl-style-validate and MapLibre GL JS
    // run); its messages name the member ("layers[3].paint.fill-color").
    for (const e of validateStyleMin(style)) report(input, e.message);
    checkKartenn(input, style);
}
if (problems) {
    console.log(`${problems} problem(s)`);
    process.exit(1);
}
console.log(`${inputs.length} style(s) valid`);
