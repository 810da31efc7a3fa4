// The dashboard's script, served from the same origin so that the page's Content Security Policy
// (script-src 'self') allows it.
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var token = $('token');
  token.value = sessionStorage.getItem('reftrack_token') || 'dev-secret';
  var signups = [];

  function get(path) {
    return fetch(path, { headers: { Authorization: 'Bearer ' + token.value } }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || response.status);
        return body;
      });
    });
  }
  // Minor units as the currency writes them (Intl knows each currency's decimals).
  function money(r) {
    var digits = new Intl.NumberFormat('en', { style: 'currency', currency: r.currency }).resolvedOptions().maximumFractionDigits;
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: r.currency }).format(r.net / Math.pow(10, digits));
  }
  function cell(row, text, numeric) {
    var td = document.createElement('td');
    td.textContent = text == null ? '—' : text;
    if (numeric) td.className = 'n';
    row.appendChild(td);
  }

  // A bar pair per day, drawn here: the collector runs offline, so no chart library from a CDN.
  function chart(days) {
    var svg = $('chart'), ns = 'http://www.w3.org/2000/svg';
    svg.textContent = '';
    var width = svg.clientWidth || 600, height = 180, bottom = 20;
    var max = Math.max(1, Math.max.apply(null, days.map(function (d) { return Math.max(d.clicks, d.signups); })));
    var slot = width / Math.max(days.length, 1), bar = Math.max(2, Math.min(24, slot / 3));
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    function add(tag, attributes, text) {
      var el = document.createElementNS(ns, tag);
      Object.keys(attributes).forEach(function (k) { el.setAttribute(k, attributes[k]); });
      if (text != null) el.textContent = text;
      svg.appendChild(el);
      return el;
    }
    days.forEach(function (d, i) {
      var x = i * slot + slot / 2;
      [[d.clicks, '#4c78a8', -bar], [d.signups, '#f58518', 0]].forEach(function (b) {
        var h = (height - bottom - 14) * b[0] / max;
        add('rect', { x: x + b[2], y: height - bottom - h, width: bar, height: h, fill: b[1] })
          .appendChild(document.createElementNS(ns, 'title')).textContent = d.day + ': ' + b[0];
      });
      add('text', { x: x, y: height - 6, 'text-anchor': 'middle' }, d.day.slice(5));
    });
    if (!days.length) add('text', { x: 8, y: 20 }, 'no activity in this range');
  }

  function load() {
    sessionStorage.setItem('reftrack_token', token.value);
    var status = $('status');
    status.textContent = 'Loading…';
    var range = '?since=' + encodeURIComponent($('since').value) + '&until=' + encodeURIComponent($('until').value) +
      '&public_key=' + encodeURIComponent($('program').value.trim());
    Promise.all([get('/v1/partners' + range), get('/v1/signups')])
      .then(function (answers) {
        var report = answers[0];
        signups = answers[1];
        var partners = $('partners');
        partners.textContent = '';
        report.partners.forEach(function (p) {
          var row = document.createElement('tr');
          var percent = function (r) { return r == null ? null : (100 * r).toFixed(1) + ' %'; };
          cell(row, p.partner_key + (p.status === 'paused' ? ' (paused)' : p.registered ? '' : ' (unregistered)'));
          cell(row, p.clicks, true);
          cell(row, p.suppressed_clicks, true);
          cell(row, p.signups, true);
          cell(row, p.contested, true);
          cell(row, p.conversions, true);
          cell(row, percent(p.signups_per_click), true);
          cell(row, percent(p.conversion_rate), true);
          cell(row, (p.revenue || []).map(money).join(', ') || null, true);
          cell(row, p.last_activity);
          row.dataset.partner = p.partner_key;
          partners.appendChild(row);
        });
        chart(report.days);
        var rows = $('rows');
        rows.textContent = '';
        signups.forEach(function (s) {
          var row = document.createElement('tr');
          var credit = s.credit ? (s.credit.credited ? 'credited' : 'not credited') + ' (' + s.credit.standing + ')' +
            (s.credit.contested ? ', contested' : '') : null;
          [s.received_at, s.type, s.customer_key, s.email, s.partner_key, credit, s.xid, s.page_url].forEach(function (v) { cell(row, v); });
          if (s.credit) row.title = s.credit.reason;
          rows.appendChild(row);
        });
        $('table').hidden = signups.length === 0;
        status.textContent = report.partners.length + ' partners, ' + signups.length + ' records.';
      })
      .catch(function (error) { status.textContent = 'Could not load: ' + error.message; });
  }

  $('builder').addEventListener('submit', function (e) {
    e.preventDefault();
    var link = $('link');
    link.href = location.origin + '/r/' + encodeURIComponent($('link-partner').value.trim()) + '?to=' + encodeURIComponent($('link-to').value.trim() || '/');
    link.textContent = link.href;
    link.hidden = false;
  });

  $('csv').addEventListener('click', function () {
    var columns = ['received_at', 'type', 'event_id', 'public_key', 'customer_key', 'email', 'name', 'partner_key', 'xid', 'verified', 'credited', 'standing', 'contested', 'amount', 'currency', 'page_url'];
    var value = function (s, c) {
      if (c == 'verified') return s.verified !== false;
      if (c == 'credited' || c == 'standing' || c == 'contested') return s.credit ? s.credit[c] : null;
      return s[c];
    };
    // Text a spreadsheet would read as a formula (=, +, -, @, tab, CR) is kept as text; numbers stay numbers.
    var text = function (v) { return typeof v == 'string' && /^[=+\-@\t\r]/.test(v) ? "'" + v : String(v); };
    var quote = function (v) { return v == null ? '' : '"' + text(v).replace(/"/g, '""') + '"'; };
    var csv = [columns.join(',')].concat(signups.map(function (s) {
      return columns.map(function (c) { return quote(value(s, c)); }).join(',');
    })).join('\r\n') + '\r\n';
    var a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
    a.download = 'reftrack-signups.csv';
    document.body.appendChild(a);
    a.click();
    a.remove();
  });

  $('auth').addEventListener('submit', function (e) { e.preventDefault(); load(); });
  load();
  setInterval(load, 5000);
})();
