function folder = bridge_package(python)
%BRIDGE_PACKAGE  The folder of the bridge package the worker runs ('' if unknown).
%   FOLDER = BRIDGE_PACKAGE(PYTHON) is <checkout>/bridge when these wrappers sit in a checkout
%   (bridge_worker.py imports that one), else the folder of the bridge that PYTHON imports,
%   asked once per session. The compiled clients send its identity (version, folder, checksum
%   of its .py files) to the warm worker, which serves only its own bridge.
persistent pythons folders checkout
if isempty(pythons)
  pythons = {};
  folders = {};
  root = fileparts(fileparts(fileparts(mfilename('fullpath'))));
  checkout = fullfile(root, 'bridge');
  if exist(fullfile(checkout, '__init__.py'), 'file') ~= 2
    checkout = '';
  end
end
if ~isempty(checkout)
  folder = checkout;
  return
end
found = find(strcmp(pythons, python), 1);
if ~isempty(found)
  folder = folders{found};
  return
end
folder = '';
[status, lines] = bridge_probe(python, {'--package'}, '--package--');
if status == 0 && ~isempty(lines)
  folder = lines{1};
end
pythons{end + 1} = python;
folders{end + 1} = folder;
end
