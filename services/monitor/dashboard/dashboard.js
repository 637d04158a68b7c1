"use strict";
const GOOD=["OK","RUNNING"],AMBER=["WARN","DEGRADED","STARTING","STOPPING","REWIND"];
function cls(s){return GOOD.includes(s)?"g":AMBER.includes(s)?"a":s==="UNKNOWN"||!s?"":"r";}
function el(tag,attrs,...kids){const e=document.createElement(tag);
for(const[k,v]of Object.entries(attrs||{}))e.setAttribute(k,v);
for(const c of kids)e.append(c instanceof Node?c:document.createTextNode(c==null?"":String(c)));
return e;}
function badge(s){return el("span",{class:"badge "+cls(s)},s||"UNKNOWN");}
function age(s){if(s==null)return"";s=Number(s);
return s<120?s.toFixed(1)+" s":s<7200?(s/60).toFixed(1)+" min":(s/3600).toFixed(1)+" h";}
function when(ms){return ms?new Date(ms).toLocaleString():"never";}
function row(tr,cells,num){cells.forEach((c,i)=>tr.append(el("td",num&&num.includes(i)?{class:"n"}:{},c)));return tr;}
const SEGS=["core","processing","relay","exchange","cloud"];
function services(list){const box=document.getElementById("segments");box.textContent="";
const segs=[...SEGS];list.forEach(s=>{if(!segs.includes(s.segment))segs.push(s.segment);});
for(const seg of segs){const mine=list.filter(s=>s.segment===seg);if(!mine.length)continue;
const tb=el("tbody");
for(const s of mine){const bad=cls(s.health)==="r";
tb.append(row(el("tr",{class:"svc"+(bad?" bad":""),"data-service":s.service,"data-instance":s.instance,
"data-health":s.health}),[s.service,s.instance,badge(s.health),age(s.age_s),s.records_in,s.records_out,
s.records_rejected,s.errors,s.lag==null?"–":s.lag+(s.lag_status?" ("+s.lag_status+")":""),s.last_batch||"–"],[3,4,5,6,7]));}
box.append(el("div",{class:"seg","data-segment":seg},el("h2",{},seg),el("table",{},
el("thead",{},row(el("tr"),["service","instance","health","heartbeat age","in","out","rejected",
"errors","lag","last batch"])),tb)));}
if(!box.children.length)box.append("no heartbeats received yet");}
function consumers(list){const tb=document.querySelector("#consumers tbody");tb.textContent="";
for(const c of list)tb.append(row(el("tr",{class:"grp"+(cls(c.status)==="r"?" bad":""),"data-group":c.group,
"data-topic":c.topic,"data-status":c.status}),[c.group,c.topic,badge(c.status),c.lag,c.partitions],[3,4]));
if(!list.length)tb.append(el("tr",{},el("td",{colspan:"5"},"no watched groups")));}
function probe(p){const sec=document.getElementById("probe"),b=document.getElementById("probe-body");
sec.setAttribute("data-state",p.state);b.textContent="";
const kv=(k,v)=>b.append(el("span",{},k),v instanceof Node?v:el("span",{},v));
kv("state",badge(p.state));
if(p.detail)kv("detail",el("span",{class:"err"},p.detail));
kv("last success",when(p.last_ok_ms));kv("round trip",p.round_trip_ms+" ms");
kv("probes / failures",p.attempts+" / "+p.failures);
const s=p.snapshot;kv("cloud snapshot",s?s.batch_id+" ("+s.records+" records)":"none yet");
kv("end-to-end freshness",s?"extracted "+age(s.age_s)+" ago":"–");
const i=p.ingest||{};kv("ingest batches ok / dup / rejected",[i.batches_ok,i.batches_duplicate,i.batches_rejected].join(" / "));
kv("records published",i.records_published);kv("last ingested batch",when(i.last_batch_ms));
const tb=document.querySelector("#sends tbody");tb.textContent="";
for(const c of p.send_errors||[])tb.append(row(el("tr",{"data-channel":c.channel}),[c.channel,c.failed_temp,c.failed_perm],[1,2]));
if(!(p.send_errors||[]).length)tb.append(el("tr",{},el("td",{colspan:"3"},"no send errors reported")));}
function senders(list){const b=document.getElementById("senders");b.textContent="";
for(const s of list.filter(s=>s.service==="sns-dispatcher"))
b.append(el("span",{},s.instance+" sent"),el("span",{},s.records_out+" ("+s.errors+" errors, "+s.records_rejected+" rejected)"));}
async function refresh(){try{const r=await fetch("status",{cache:"no-store"});const st=await r.json();
const o=document.getElementById("overall");o.textContent=st.overall;o.className="badge "+cls(st.overall);
o.setAttribute("data-state",st.overall);
services(st.services);consumers(st.consumers);probe(st.probe);senders(st.services);
document.getElementById("updated").textContent="monitor "+st.monitor+" · updated "+new Date(st.generated_ms).toLocaleTimeString();
}catch(e){document.getElementById("updated").textContent="monitor unreachable: "+e;}}
refresh();setInterval(refresh,2000);
