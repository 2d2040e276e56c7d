// browser_map.mjs — the map page (GET /) in Debian's headless Chromium,
// driven by playwright-core.
//
//   node browser_map.mjs BASE_URL OUT_DIR
//
// Loads BASE_URL/, waits until the map is idle, and checks, as a user
// would see it: no console error, no failed request and no request
// leaving the server (the page must work offline), the labels placed
// (fonts from the server), the layer list, legend, scale bar and the
// "fictional data" notice; the screenshot is not blank (decoded here:
// many distinct colours, no colour covering nearly everything, the
// DT-DICT colours of the lighting network present); a click on a
// street-lighting support opens a popup headed with its reference, read
// from /api/features; unticking a layer hides it. Screenshots go to
// OUT_DIR (map.png, popup.png, cemetery.png, overview.png). Prints "FAIL: …" lines and exits 1 on any
// failure.
import {chromium} from 'playwright-core';
import {mkdtempSync, rmSync, writeFileSync, mkdirSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {inflateSync} from 'node:zlib';

const [base, outDir] = process.argv.slice(2);
if (!base || !outDir) {
    console.error('usage: browser_map.mjs BASE_URL OUT_DIR');
    process.exit(2);
}
const origin = new URL(base).origin;
mkdirSync(outDir, {recursive: true});

let failures = 0;
function fail(msg) { failures++; console.log(`FAIL: ${msg}`); }
function check(cond, msg) { if (!cond) fail(msg); return cond; }

// ---- a tiny PNG reader (8-bit RGB/RGBA, non-interlaced: Chromium's) ----
function decodePng(buf) {
    if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
    let off = 8, width = 0, height = 0, bpp = 0;
    const idat = [];
    while (off < buf.length) {
        const len = buf.readUInt32BE(off);
        const type = buf.toString('ascii', off + 4, off + 8);
        const data = buf.subarray(off + 8, off + 8 + len);
        if (type === 'IHDR') {
            width = data.readUInt32BE(0);
            height = data.readUInt32BE(4);
            const depth = data[8], colour = data[9], interlace = data[12];
            if (depth !== 8 || interlace !== 0 || (colour !== 2 && colour !== 6))
                throw new Error(`unsupported PNG (depth ${depth}, colour type ${colour}, interlace ${interlace})`);
            bpp = colour === 6 ? 4 : 3;
        } else if (type === 'IDAT') {
            idat.push(data);
        }
        off += 12 + len;
    }
    const raw = inflateSync(Buffer.concat(idat));
    const stride = width * bpp;
    const px = Buffer.alloc(height * stride);
    for (let y = 0; y < height; y++) {
        const f = raw[y * (stride + 1)];
        const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
        for (let i = 0; i < stride; i++) {
            const a = i >= bpp ? px[y * stride + i - bpp] : 0;
            const b = y > 0 ? px[(y - 1) * stride + i] : 0;
            const c = i >= bpp && y > 0 ? px[(y - 1) * stride + i - bpp] : 0;
            let v = line[i];
            if (f === 1) v += a;
            else if (f === 2) v += b;
            else if (f === 3) v += (a + b) >> 1;
            else if (f === 4) {
                const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
                v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
            }
            px[y * stride + i] = v & 255;
        }
    }
    return {width, height, bpp, px};
}

// Distinct colours, the share of the commonest, and how many pixels are
// close to each of the given colours.
function colourStats(img, targets) {
    const counts = new Map();
    const near = Object.fromEntries(Object.keys(targets).map((k) => [k, 0]));
    const rgb = Object.entries(targets).map(([k, hex]) =>
        [k, parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)]);
    const n = img.width * img.height;
    for (let i = 0; i < n; i++) {
        const r = img.px[i * img.bpp], g = img.px[i * img.bpp + 1], b = img.px[i * img.bpp + 2];
        const key = (r << 16) | (g << 8) | b;
        counts.set(key, (counts.get(key) || 0) + 1);
        for (const [k, tr, tg, tb] of rgb)
            if (Math.abs(r - tr) + Math.abs(g - tg) + Math.abs(b - tb) < 24) near[k]++;
    }
    const top = Math.max(...counts.values());
    return {distinct: counts.size, topShare: top / n, near};
}

// ---- the browser ---------------------------------------------------------
const userDataDir = mkdtempSync(join(tmpdir(), 'kartenn-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.KT_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: {width: 1280, height: 800},
    locale: 'fr-FR',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
});
const page = context.pages()[0] || await context.newPage();
const consoleErrors = [];
const badResponses = [];
const offsite = [];
page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
    if (process.env.KT_VERBOSE) console.log(`console.${m.type()}: ${m.text()}`);
});
page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
page.on('requestfailed', (r) => badResponses.push(`${r.url()} failed: ${r.failure()?.errorText}`));
page.on('response', (r) => { if (r.status() >= 400) badResponses.push(`${r.url()} → ${r.status()}`); });
// The feature requests of the popup: the tile gives the feature id (the
// store's fid), and the popup asks /api/features for it.
const featureRequests = [];
page.on('response', (r) => {
    const m = new URL(r.url()).pathname.match(/^\/api\/features\/([^/]+)\/([^/]+)$/);
    if (m) featureRequests.push({layer: m[1], id: decodeURIComponent(m[2]), status: r.status()});
});
// Offline: anything that is not this server (or an in-page blob/data URL)
// is refused and reported.
await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin + '/') || url.startsWith('blob:') || url.startsWith('data:'))
        return route.continue();
    offsite.push(url);
    return route.abort();
});

async function waitIdle(what) {
    try {
        await page.waitForFunction(() => {
            const m = window.kartennMap;
            return m && m.loaded() && m.areTilesLoaded() && !m.isMoving();
        }, null, {timeout: 60000, polling: 200});
        await page.evaluate(() => new Promise((resolve) => {
            const m = window.kartennMap;
            m.once('idle', resolve);
            m.triggerRepaint();
        }));
        return true;
    } catch (e) {
        fail(`${what}: the map did not become idle (${e.message.split('\n')[0]})`);
        return false;
    }
}

try {
    const resp = await page.goto(base + '/', {waitUntil: 'load', timeout: 30000});
    check(resp && resp.status() === 200, `GET / answered ${resp?.status()}`);
    check((await page.title()).includes('Lanester'), 'the page title names Lanester');
    try {
        await page.waitForFunction(() => document.body.dataset.map === 'idle', null, {timeout: 60000});
    } catch {
        fail('the map never reached its first idle state');
    }
    await waitIdle('first view');

    const webgl = await page.evaluate(() => {
        const gl = window.kartennMap?.painter?.context?.gl;
        return gl ? gl.getParameter(gl.VERSION) : null;
    });
    check(webgl, 'no WebGL context');
    console.log(`WebGL: ${webgl}`);

    // What a user sees around the map.
    const ui = await page.evaluate(() => ({
        layers: [...document.querySelectorAll('#layers input[type=checkbox]')].map((i) => i.value),
        legend: document.getElementById('legend').textContent,
        scale: document.querySelector('.maplibregl-ctrl-scale')?.textContent || '',
        fictional: document.getElementById('fictional').hidden ? '' : document.getElementById('fictional').textContent,
        attribution: document.querySelector('.maplibregl-ctrl-attrib')?.textContent || '',
        zoom: window.kartennMap.getZoom(),
    }));
    for (const l of ['eclairage_support', 'eclairage_cable', 'eclairage_armoire', 'batiment', 'cimetiere', 'commune'])
        check(ui.layers.includes(l), `the layer list has no switch for ${l}`);
    for (const c of ['Classe A', 'Classe B', 'Classe C'])
        check(ui.legend.includes(c), `the legend does not show "${c}"`);
    check(/\d+\s*(m|km)$/.test(ui.scale.trim()), `no metric scale bar ("${ui.scale}")`);
    check(/fictives/i.test(ui.fictional), `the demo store is not labelled as fictional ("${ui.fictional}")`);
    console.log(`view: zoom ${ui.zoom.toFixed(2)}, scale "${ui.scale}", ${ui.layers.length} layer switches`);

    // Labels placed: their glyphs came from the server's font files.
    const labels = await page.evaluate(() => window.kartennMap.queryRenderedFeatures({
        layers: ['cimetiere-label', 'batiment-label', 'eclairage-armoire-label'],
    }).map((f) => f.properties.nom || f.properties.reference));
    check(labels.length > 0, 'no label is placed on the map (fonts?)');
    console.log(`labels placed: ${labels.length} (${[...new Set(labels)].slice(0, 4).join(', ')}…)`);

    // The drawing itself.
    const shot = await page.screenshot({path: join(outDir, 'map.png')});
    const mapBox = await page.locator('#map').boundingBox();
    const canvasShot = await page.locator('#map canvas').screenshot();
    const img = decodePng(canvasShot);
    const st = colourStats(img, {A: '#1a9641', B: '#f08c00', C: '#d7191c', building: '#dcd6cc'});
    console.log(`screenshot: ${img.width}x${img.height}, ${st.distinct} colours, commonest ${(st.topShare * 100).toFixed(1)} %, ` +
        `near A/B/C/building: ${st.near.A}/${st.near.B}/${st.near.C}/${st.near.building} px (${shot.length} bytes)`);
    check(st.distinct >= 50, `the map looks blank: ${st.distinct} distinct colours`);
    check(st.topShare < 0.85, `one colour covers ${(st.topShare * 100).toFixed(1)} % of the map`);
    check(st.near.building > 500, 'no building colour on the map');
    check(st.near.A > 20 && st.near.B > 20 && st.near.C > 20,
        'the lighting network is not drawn in the three DT-DICT colours (does the tile carry dtdict_class?)');

    // Where the cemetery is (for a closer look at the end).
    const cemetery = await page.evaluate(() => {
        const f = window.kartennMap.queryRenderedFeatures({layers: ['cimetiere-fill']})[0];
        if (!f) return null;
        const pts = f.geometry.coordinates.flat(3);
        const xs = [], ys = [];
        for (let i = 0; i < pts.length; i += 2) { xs.push(pts[i]); ys.push(pts[i + 1]); }
        return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
    });
    check(cemetery, 'no cemetery in the first view');

    // A click on a street-lighting support: zoom on one, click it.
    const target = await page.evaluate(() => {
        const m = window.kartennMap;
        const fs = m.queryRenderedFeatures({layers: ['eclairage-support']});
        if (!fs.length) return null;
        const c = m.getCenter();
        fs.sort((a, b) => {
            const da = Math.hypot(a.geometry.coordinates[0] - c.lng, a.geometry.coordinates[1] - c.lat);
            const db = Math.hypot(b.geometry.coordinates[0] - c.lng, b.geometry.coordinates[1] - c.lat);
            return da - db;
        });
        return {lnglat: fs[0].geometry.coordinates, reference: fs[0].properties.reference, id: fs[0].id};
    });
    if (check(target && target.reference, 'no street-lighting support is drawn (or it has no reference in the tile)')) {
        await page.evaluate((t) => window.kartennMap.jumpTo({center: t.lnglat, zoom: 18.5}), target);
        await waitIdle('support view');
        const pt = await page.evaluate((t) => {
            const p = window.kartennMap.project(t.lnglat);
            return {x: p.x, y: p.y};
        }, target);
        await page.mouse.click(mapBox.x + pt.x, mapBox.y + pt.y);
        try {
            await page.waitForFunction((ref) => {
                const h = document.querySelector('.maplibregl-popup .feature h3');
                return h && h.textContent === ref;
            }, target.reference, {timeout: 15000});
            const popup = await page.locator('.maplibregl-popup').textContent();
            check(popup.includes('Classe DT-DICT'), 'the popup does not show the DT-DICT class');
            check(popup.includes('Supports d'), 'the popup does not name the layer');
            // the answer came from /api/features through the tile's feature id
            check(Number.isInteger(target.id), `the support has no integer feature id in the tile (${target.id})`);
            check(featureRequests.some((r) => r.layer === 'eclairage_support' && r.id === String(target.id) &&
                r.status === 200), `the popup did not fetch /api/features/eclairage_support/${target.id} ` +
                `(requests: ${JSON.stringify(featureRequests)})`);
            check(/Identifiant : [0-9a-f-]{36}/.test(popup), 'the popup does not show the feature uid from the API');
            console.log(`popup of ${target.reference}: ${popup.slice(0, 160).replace(/\s+/g, ' ')}…`);
        } catch {
            const got = await page.locator('.maplibregl-popup').textContent().catch(() => '(no popup)');
            fail(`a click on support ${target.reference} did not open its popup (got: ${got.slice(0, 200)})`);
        }
        await page.waitForTimeout(300);
        await page.screenshot({path: join(outDir, 'popup.png')});

        // Switching the supports off hides them.
        await page.locator('#layers input[value=eclairage_support]').uncheck();
        const vis = await page.evaluate(() => ({
            v: window.kartennMap.getLayoutProperty('eclairage-support', 'visibility'),
            n: window.kartennMap.queryRenderedFeatures({layers: ['eclairage-support']}).length,
        }));
        check(vis.v === 'none', `unticking the supports left them ${vis.v}`);
        await page.locator('#layers input[value=eclairage_support]').check();
    }

    // The cemetery up close: plots, alleys and their labels.
    if (cemetery) {
        await page.evaluate((c) => {
            window.kartennMap.jumpTo({center: c, zoom: 18.6});
            for (const p of document.querySelectorAll('.maplibregl-popup')) p.remove();
        }, cemetery);
        await waitIdle('cemetery view');
        const n = await page.evaluate(() => ({
            plots: window.kartennMap.queryRenderedFeatures({layers: ['cimetiere-emplacement-fill']}).length,
            labels: window.kartennMap.queryRenderedFeatures({layers: ['cimetiere-carre-label', 'cimetiere-allee-label']}).length,
        }));
        check(n.plots > 0, 'no cemetery plot drawn at zoom 18.6');
        check(n.labels > 0, 'no section or alley label in the cemetery at zoom 18.6');
        await page.screenshot({path: join(outDir, 'cemetery.png')});
    }
    // The whole commune.
    await page.evaluate(() => window.kartennMap.jumpTo({zoom: 13.2}));
    await waitIdle('commune view');
    await page.screenshot({path: join(outDir, 'overview.png')});

    for (const e of consoleErrors) fail(`console error: ${e}`);
    for (const r of badResponses) fail(`request: ${r}`);
    for (const u of offsite) fail(`request off the server (the page must work offline): ${u}`);
} catch (e) {
    fail(`unexpected: ${e.stack || e}`);
} finally {
    await context.close();
    rmSync(userDataDir, {recursive: true, force: true});
}
writeFileSync(join(outDir, 'result.txt'), failures ? `${failures} failure(s)\n` : 'ok\n');
if (failures) {
    console.log(`${failures} failure(s); screenshots in ${outDir}`);
    process.exit(1);
}
console.log(`browser: all checks passed; screenshots in ${outDir}`);
