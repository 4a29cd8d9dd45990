function values = bridge_operands(values, separable)
%BRIDGE_OPERANDS  Refuse operands that are not numeric or logical (char, cell, struct, function
%   handles, objects such as string or table) before anything is saved, as MATLAB's conv2
%   refuses them: MATLAB:conv2:inputType (MATLAB:conv2:inputTypeSeparable in conv2(u, v, A)).
%   Sparse and every numeric class go to the worker, which answers as MATLAB does.
for k = 1:numel(values)
  x = values{k};
  if isobject(x) || ~(isnumeric(x) || islogical(x))  % checked here: save() would warn first
    if nargin > 1 && separable
      error('MATLAB:conv2:inputTypeSeparable', '%s', ...
        'Invalid data type. HCOL, HROW and A must be numeric or logical.');
    end
    error('MATLAB:conv2:inputType', '%s', ...
      'Invalid data type. First and second arguments must be numeric or logical.');
  end
end
end
