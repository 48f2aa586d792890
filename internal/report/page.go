package report

import "html/template"

// Style is the reports' CSS.
const Style template.CSS = `
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; margin: 1.5em auto; max-width: 1250px; color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin-top: 1.2em; }
p.lede { font-size: 1.05em; margin-top: 0.3em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
table.compact { font-size: 0.78em; }
table.compact th, table.compact td { padding: 2px 5px; }
table.compact th { white-space: normal; }
td.bad { white-space: normal; min-width: 14em; }
nav.toc { margin: 0.8em 0; line-height: 1.8; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; }
td.l, th.l { text-align: left; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th:after { content: " ↕"; color: #aaa; font-size: 0.8em; }
.good { color: #0a6b2b; } .bad { color: #a3261b; }
.note { background: #fff8e0; border-left: 4px solid #e6b800; padding: 0.4em 0.8em; margin: 0.5em 0; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 0.5em 1.5em; }
input.filter { margin: 0.4em 0; padding: 4px 6px; width: 22em; }
.muted { color: #777; }
`

// Script makes every table.sortable sortable by clicking a header
// (numbers compare as numbers) and filters a table by the text typed into
// an input with data-filter="<table id>". Plain JavaScript, no network.
const Script template.JS = `
(function () {
  function key(td) {
    var s = (td && td.textContent || '').trim();
    var n = parseFloat(s.replace(/,/g, '').replace(/^< /, ''));
    return isNaN(n) ? s.toLowerCase() : n;
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('th').forEach(function (th, col) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var asc = th.getAttribute('data-dir') !== 'asc';
        th.setAttribute('data-dir', asc ? 'asc' : 'desc');
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          if (x === '' && y !== '') return 1;
          if (y === '' && x !== '') return -1;
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  document.querySelectorAll('input[data-filter]').forEach(function (input) {
    var table = document.getElementById(input.getAttribute('data-filter'));
    input.addEventListener('input', function () {
      var q = input.value.toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
      });
    });
  });
})();
`
