function path = bridge_built(kind, build)
%BRIDGE_BUILT  The compiled client KIND ('mex' or 'client'), built on first use; '' if there is none.
%   PATH = BRIDGE_BUILT('mex') is the folder that holds bridge_mex (the MEX client: operands to
%   the warm worker from memory), PATH = BRIDGE_BUILT('client') the path of bridge_client (the
%   compiled command-line client: a warm file job without a Python start). Both are built from
%   the C sources next to this file (bridge_mex.c, bridge_client.c, bridge_wire.h) into a cache
%   folder (BRIDGE_BUILD_CACHE), in a subfolder named after the sources' checksum, so that an edited
%   source is built anew and a read-only install is never written to. The answer, and a failed
%   build, are remembered for the session: a machine without a compiler pays for one try.
%
%   Built automatically: the command-line client wherever `cc` works (Linux), the MEX client in
%   Octave where mkoctfile works. In MATLAB the MEX client is built by BRIDGE_SETUP (mex needs a
%   configured compiler); BRIDGE_BUILT('mex', true) builds it (BRIDGE_SETUP calls this) and
%   raises bridge:build when that fails.
%
%   Linux only (the warm worker is): elsewhere PATH is ''. BRIDGE_NO_SERVER=1 also gives '';
%   BRIDGE_NO_MEX=1 gives '' for the MEX client (calls go through files), BRIDGE_NO_CLIENT=1 for
%   the compiled client (file jobs start Python, whose client asks the worker).
persistent known
if isempty(known)
  known = struct();
end
if nargin < 2
  build = false;
end
path = '';
if ~isunix || ismac
  return
end
if ~build
  flag = strtrim(getenv('BRIDGE_NO_SERVER'));
  if ~isempty(flag) && ~strcmp(flag, '0')
    return
  end
  off = getenv(['BRIDGE_NO_' upper(kind)]);  % BRIDGE_NO_MEX, BRIDGE_NO_CLIENT
  if ~isempty(off) && ~strcmp(off, '0')
    return
  end
  if isfield(known, kind)
    path = known.(kind);
    return
  end
end
here = fileparts(mfilename('fullpath'));
octave = exist('OCTAVE_VERSION', 'builtin') ~= 0;
switch kind
  case 'client'
    sources = {'bridge_client.c', 'bridge_wire.h'};
    installed = fullfile(here, 'bridge_client');  % built by setup.py in a checkout
    if exist(installed, 'file') == 2 && ~build && newer(installed, here, sources)
      known.(kind) = installed;
      path = installed;
      return
    end
  case 'mex'
    sources = {'bridge_mex.c', 'bridge_wire.h'};
  otherwise
    error('bridge:badOption', '%s', 'bridge_built: KIND is ''mex'' or ''client''.');
end
if octave
  engine = ['octave-' OCTAVE_VERSION];
else
  engine = ['matlab-' version('-release')];
end
folder = fullfile(bridge_build_cache(), sprintf('%s-%s-%s-%s', kind, engine, computer, ...
  checksum(here, sources)));
if strcmp(kind, 'client')
  target = fullfile(folder, 'bridge_client');
  found = exist(target, 'file') == 2;
else
  target = folder;
  found = exist(fullfile(folder, ['bridge_mex.' ext()]), 'file') == 2;
end
problem = '';
if ~found && (build || strcmp(kind, 'client') || octave)
  problem = compile(kind, here, folder, octave);
end
if isempty(problem)
  path = target;
elseif build
  error('bridge:build', '%s', problem);
end
known.(kind) = path;
end

function problem = compile(kind, here, folder, octave)
% Build into a private folder next to FOLDER, then rename it into place: several sessions may
% build at once, and none sees a half-written file.
problem = '';
parent = fileparts(folder);
if exist(parent, 'dir') ~= 7
  [ok, msg] = mkdir(parent);
  if ~ok
    problem = sprintf('cannot create the build cache %s (%s); set BRIDGE_BUILD_CACHE', parent, msg);
    return
  end
end
scratch = tempname(parent);
[ok, msg] = mkdir(scratch);
if ~ok
  problem = sprintf('cannot write to the build cache %s (%s); set BRIDGE_BUILD_CACHE', parent, msg);
  return
end
cleanup = onCleanup(@() remove(scratch)); %#ok<NASGU> gone once renamed
if strcmp(kind, 'client')
  out = fullfile(scratch, 'bridge_client');
  [status, text] = system(sprintf('cc -O2 -o %s %s', quote(out), ...
    quote(fullfile(here, 'bridge_client.c'))));
elseif octave
  out = fullfile(scratch, 'bridge_mex');
  [text, status] = mkoctfile('--mex', '-o', out, fullfile(here, 'bridge_mex.c'));
else
  try
    mex('-R2017b', '-silent', '-outdir', scratch, '-output', 'bridge_mex', ...
      fullfile(here, 'bridge_mex.c'), '-lut');
    status = 0;
    text = '';
  catch err
    status = 1;
    text = err.message;
  end
end
if status ~= 0
  problem = sprintf('building the %s client failed: %s', kind, strtrim(text));
  return
end
if exist(folder, 'dir') == 7  % another session was faster
  return
end
if octave
  [err, msg] = rename(scratch, folder);
  ok = err == 0;
else
  [ok, msg] = movefile(scratch, folder);
end
if ~ok && exist(folder, 'dir') ~= 7
  problem = sprintf('cannot move the built %s client to %s: %s', kind, folder, msg);
end
end

function tf = newer(file, here, sources)
% FILE was built after the last change of SOURCES (an install that predates an edit is stale).
info = dir(file);
tf = ~isempty(info);
for k = 1:numel(sources)
  source = dir(fullfile(here, sources{k}));
  tf = tf && ~isempty(source) && info.datenum >= source.datenum;
end
end

function remove(folder)
if exist(folder, 'dir') == 7
  if exist('OCTAVE_VERSION', 'builtin') ~= 0
    confirm_recursive_rmdir(false, 'local');
  end
  [ok, msg] = rmdir(folder, 's'); %#ok<ASGLU> a cleanup must not raise
end
end

function e = ext()
if exist('OCTAVE_VERSION', 'builtin') ~= 0
  e = 'mex';
else
  e = mexext();
end
end

function q = quote(text)
q = ['''' strrep(text, '''', '''\''''') ''''];
end

function key = checksum(here, sources)
% A checksum of the sources (MATLAB has no hash function): an edited source gets a new folder.
key = 0;
for k = 1:numel(sources)
  fid = fopen(fullfile(here, sources{k}), 'r');
  if fid < 0
    continue
  end
  bytes = double(fread(fid, Inf, 'uint8=>uint8'))';
  fclose(fid);
  weights = mod(0:numel(bytes) - 1, 65521) + 1;
  key = mod(key * 31 + sum(bytes .* weights) + numel(bytes), 2^47);
end
key = sprintf('%012x', key);
end
